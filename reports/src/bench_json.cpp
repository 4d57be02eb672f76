#include "reports/bench_json.hpp"

#include <fstream>
#include <sstream>

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
  throw InputError(path,
                   "field " + field + ": unknown time unit '" + unit + "' (valid: ns, us, ms, s)");
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
                               ", found " + it->type_name());
  }
  return *it;
}

void add_entry(RunFile& file, std::map<std::string, std::size_t>& index,
               const nlohmann::json& entry, const std::string& where) {
  using value_t = nlohmann::json::value_t;
  if (!entry.is_object()) throw InputError(file.path, "field " + where + ": expected an object");
  const std::string name = require(file.path, entry, where + ".", "name", value_t::string);
  const std::string run_type = entry.value("run_type", "iteration");
  if (run_type == "aggregate") return;
  const std::string run_name = entry.value("run_name", name);
  auto [it, added] = index.try_emplace(run_name, file.benchmarks.size());
  if (added) {
    Benchmark& fresh = file.benchmarks.emplace_back();
    fresh.name = run_name;
    parse_name(fresh, file.python_reference);
  }
  Benchmark& b = file.benchmarks[it->second];
  if (entry.value("error_occurred", false)) {
    b.error = entry.value("error_message", "error");
    return;
  }
  const std::string unit = require(file.path, entry, where + ".", "time_unit", value_t::string);
  const double scale = ns_per_unit(file.path, where + ".time_unit", unit);
  b.real_ns.push_back(
      require(file.path, entry, where + ".", "real_time", value_t::number_float).get<double>() *
      scale);
  b.cpu_ns.push_back(
      require(file.path, entry, where + ".", "cpu_time", value_t::number_float).get<double>() *
      scale);
  for (const auto& [key, value] : entry.items()) {
    if (value.is_number() && !is_standard_field(key)) {
      b.counters[key].push_back(value.get<double>());
    }
  }
}

// Google Benchmark writes a bare NaN (or Infinity) for statistics it cannot
// compute, e.g. the coefficient of variation of an all-zero counter; Python's
// json module reads those, nlohmann::json does not. Outside strings they
// become null, which every reader here skips as "not a number".
std::string nan_as_null(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const std::string word : {"NaN", "-Infinity", "Infinity"}) {
      if (text.compare(i, word.size(), word) == 0) {
        out += "null";
        i += word.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(nan_as_null(text.str()));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "not JSON: parse error at byte " + std::to_string(e.byte));
  }
}

RunFile load_run_file(const std::string& path) {
  const nlohmann::json json = read_json_file(path);
  RunFile file;
  file.path = path;
  if (!json.is_object()) throw InputError(path, "top level: expected an object");
  using value_t = nlohmann::json::value_t;
  file.context = require(path, json, "", "context", value_t::object);
  file.python_reference = file.context.value("loopbench_reference", "") == "python";
  const nlohmann::json& entries = require(path, json, "", "benchmarks", value_t::array);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    add_entry(file, index, entries[i], "benchmarks[" + std::to_string(i) + "]");
  }
  return file;
}

}  // namespace reports
