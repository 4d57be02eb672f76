#include "reports/bench_json.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

namespace reports {

const char* to_string(Kind kind) noexcept {
  switch (kind) {
    case Kind::scenario:
      return "scenario";
    case Kind::baseline:
      return "baseline";
    case Kind::python_reference:
      return "python-reference";
  }
  return "?";
}

std::string Benchmark::case_name() const {
  std::string name = scenario;
  if (!params.empty()) name += "/" + params;
  if (!variant.empty()) name += "/" + variant;
  return name;
}

std::string RunFile::machine() const {
  const auto host = context.find("host_name");
  return host != context.end() && host->is_string() ? host->get<std::string>() : "unknown";
}

bool RunFile::virtual_time(const std::string& backend) const {
  const std::string listed = context.value("virtual_time_backends", "");
  std::istringstream in(listed);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name.erase(0, name.find_first_not_of(' ')) == backend) return true;
  }
  return false;
}

std::string param_value(const std::string& params, const std::string& key) {
  std::istringstream in(params);
  std::string assignment;
  while (std::getline(in, assignment, ',')) {
    if (assignment.rfind(key + "=", 0) == 0) return assignment.substr(key.size() + 1);
  }
  return "";
}

namespace {

// Google Benchmark's own fields of a run entry; every other number is a counter.
bool is_standard_field(const std::string& key) {
  static const char* const kFields[] = {"family_index", "per_family_instance_index",
                                        "repetitions",  "repetition_index",
                                        "threads",      "iterations",
                                        "real_time",    "cpu_time"};
  for (const char* field : kFields) {
    if (key == field) return true;
  }
  return false;
}

double ns_per_unit(const std::string& path, const std::string& field, const std::string& unit) {
  if (unit == "ns") return 1;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  throw InputError(path, "field " + field + ": unknown time unit " + quote_input(unit) +
                             " (valid: ns, us, ms, s)");
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// Fills the naming-scheme parts of `b` from its run name.
void parse_name(Benchmark& b, bool python_reference) {
  std::string name = b.name;
  for (const char* suffix : {"/manual_time", "/real_time"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      name.resize(name.size() - s.size());
    }
  }
  std::vector<std::string> parts = split(name, '/');
  std::size_t first = 0;
  if (parts.size() >= 4 && parts[0] == "baseline") {
    b.kind = Kind::baseline;
    b.implementation = parts[1];
    b.scenario = parts[2];
    first = 3;
  } else if (parts.size() >= 3) {
    b.kind = python_reference ? Kind::python_reference : Kind::scenario;
    b.scenario = parts[0];
    b.implementation = parts[1];
    first = 2;
  } else {
    b.kind = python_reference ? Kind::python_reference : Kind::scenario;
    b.scenario = name;
    return;
  }
  b.params = parts[first];
  for (std::size_t i = first + 1; i < parts.size(); ++i) {
    b.variant += (b.variant.empty() ? "" : "/") + parts[i];
  }
}

std::string found(const nlohmann::json& value) {
  return "found " + type_in_message(value);
}

// The field `key` of `object`, which must be there with type `type`
// (number_float: any number).
const nlohmann::json& require(const std::string& path, const nlohmann::json& object,
                              const std::string& where, const char* key,
                              nlohmann::json::value_t type) {
  const auto it = object.find(key);
  const std::string field = where + key;
  if (it == object.end()) throw InputError(path, "field " + field + ": missing");
  const bool ok =
      type == nlohmann::json::value_t::number_float ? it->is_number() : it->type() == type;
  if (!ok) {
    throw InputError(path, "field " + field + ": expected " + nlohmann::json(type).type_name() +
                               ", " + found(*it));
  }
  return *it;
}

// The field `key` of `object` if it is there (then with type `type`), else
// `fallback`.
template <typename T>
T optional(const std::string& path, const nlohmann::json& object, const std::string& where,
           const char* key, nlohmann::json::value_t type, T fallback) {
  if (!object.contains(key)) return fallback;
  return require(path, object, where, key, type).get<T>();
}

// A time in nanoseconds: finite and >= 0 once scaled.
double time_ns(const std::string& path, const nlohmann::json& entry, const std::string& where,
               const char* key, double scale) {
  const nlohmann::json& value =
      require(path, entry, where, key, nlohmann::json::value_t::number_float);
  const double ns = value.get<double>() * scale;
  if (!(ns >= 0 && std::isfinite(ns))) {
    throw InputError(path,
                     "field " + where + key + ": expected a time >= 0, found " + value.dump());
  }
  return ns;
}

// The names of benchmarks seen as aggregates, and where each benchmark is
// in the file's list.
struct Seen {
  std::vector<std::string> aggregates;
  std::map<std::string, std::size_t> index;
};

void add_entry(RunFile& file, Seen& seen, const nlohmann::json& entry, const std::string& where) {
  using value_t = nlohmann::json::value_t;
  if (!entry.is_object()) {
    throw InputError(file.path, "field " + where + ": expected object, " + found(entry));
  }
  const std::string at = where + ".";
  const std::string name = require(file.path, entry, at, "name", value_t::string);
  const std::string run_name =
      optional<std::string>(file.path, entry, at, "run_name", value_t::string, name);
  const std::string run_type =
      optional<std::string>(file.path, entry, at, "run_type", value_t::string, "iteration");
  if (run_type == "aggregate") {
    seen.aggregates.push_back(run_name);
    return;
  }
  if (run_type != "iteration") {
    throw InputError(file.path, "field " + at +
                                    "run_type: expected \"iteration\" or \"aggregate\", found " +
                                    quote_input(run_type));
  }
  auto [it, added] = seen.index.try_emplace(run_name, file.benchmarks.size());
  if (added) {
    Benchmark& fresh = file.benchmarks.emplace_back();
    fresh.name = run_name;
    parse_name(fresh, file.python_reference);
  }
  Benchmark& b = file.benchmarks[it->second];
  if (optional<bool>(file.path, entry, at, "error_occurred", value_t::boolean, false)) {
    b.error =
        optional<std::string>(file.path, entry, at, "error_message", value_t::string, "error");
    return;
  }
  const std::string unit = require(file.path, entry, at, "time_unit", value_t::string);
  const double scale = ns_per_unit(file.path, at + "time_unit", unit);
  b.real_ns.push_back(time_ns(file.path, entry, at, "real_time", scale));
  b.cpu_ns.push_back(time_ns(file.path, entry, at, "cpu_time", scale));
  for (const auto& [key, value] : entry.items()) {
    if (value.is_number() && !is_standard_field(key)) {
      b.counters[key].push_back(value.get<double>());
    }
  }
}

// The context fields that the report reads, with their types.
void check_context(const std::string& path, const nlohmann::json& context) {
  using value_t = nlohmann::json::value_t;
  const std::pair<const char*, value_t> fields[] = {{"host_name", value_t::string},
                                                    {"virtual_time_backends", value_t::string},
                                                    {"loopbench_reference", value_t::string},
                                                    {"loopbench_build_type", value_t::string},
                                                    {"loopbench_sanitizer", value_t::string},
                                                    {"cpu_scaling_enabled", value_t::boolean},
                                                    {"date", value_t::string},
                                                    {"num_cpus", value_t::number_float},
                                                    {"load_avg", value_t::array}};
  for (const auto& [key, type] : fields) {
    if (context.contains(key)) require(path, context, "context.", key, type);
  }
  if (const auto load = context.find("load_avg"); load != context.end()) {
    for (std::size_t i = 0; i < load->size(); ++i) {
      if (!(*load)[i].is_number()) {
        throw InputError(path, "field context.load_avg[" + std::to_string(i) +
                                   "]: expected number, " + found((*load)[i]));
      }
    }
  }
}

}  // namespace

RunFile parse_run_file(const std::string& path, const std::string& text) {
  const nlohmann::json json = parse_json(path, text);
  RunFile file;
  file.path = path;
  if (!json.is_object()) throw InputError(path, "top level: expected object, " + found(json));
  using value_t = nlohmann::json::value_t;
  const nlohmann::json& context = require(path, json, "", "context", value_t::object);
  check_context(path, context);
  file.context = context;
  file.python_reference = file.context.value("loopbench_reference", "") == "python";
  const nlohmann::json& entries = require(path, json, "", "benchmarks", value_t::array);
  if (entries.empty()) {
    throw InputError(path,
                     "field benchmarks: empty: no benchmark ran (a filter that matched none?)");
  }
  Seen seen;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    add_entry(file, seen, entries[i], "benchmarks[" + std::to_string(i) + "]");
  }
  const auto aggregates_only =
      std::find_if(seen.aggregates.begin(), seen.aggregates.end(),
                   [&seen](const std::string& name) { return seen.index.count(name) == 0; });
  if (aggregates_only != seen.aggregates.end()) {
    throw InputError(path, "field benchmarks: " + quote_input(*aggregates_only) +
                               " has aggregates only (mean, median, ...), no repetitions: "
                               "rerun without --benchmark_report_aggregates_only, since report "
                               "and compare need every repetition");
  }
  return file;
}

RunFile load_run_file(const std::string& path) {
  return parse_run_file(path, read_input_file(path));
}

}  // namespace reports
