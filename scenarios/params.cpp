// Parameter specs and validated values. Every error message is one line that
// names the parameter, the bad text and what would have been accepted.
#include <charconv>
#include <stdexcept>
#include <utility>

#include "scenarios/scenario.hpp"

namespace scenarios {

namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ns;
};
// Largest first: format_duration picks the first unit that divides exactly.
constexpr Unit kUnits[] = {{"h", 3'600'000'000'000}, {"min", 60'000'000'000}, {"s", 1'000'000'000},
                           {"ms", 1'000'000},        {"us", 1'000},           {"ns", 1}};
constexpr std::string_view kUnitList = "ns, us, ms, s, min, h";

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) {
      out += separator;
    }
    out += word;
  }
  return out;
}

std::string spec_names(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> names;
  names.reserve(specs.size());
  for (const auto& spec : specs) {
    names.push_back(spec.name);
  }
  return join(names, ", ");
}

bool all_digits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// Parses an unsigned decimal that fits std::int64_t.
bool parse_digits(std::string_view text, std::int64_t& out) {
  if (!all_digits(text)) {
    return false;
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// "-?digits[k|M]"; false on anything else or on overflow.
bool parse_integer(std::string_view text, std::int64_t& out) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  std::int64_t scale = 1;
  if (!text.empty() && (text.back() == 'k' || text.back() == 'M')) {
    scale = text.back() == 'k' ? 1'000 : 1'000'000;
    text.remove_suffix(1);
  }
  std::int64_t value = 0;
  if (!parse_digits(text, value) || __builtin_mul_overflow(value, scale, &value)) {
    return false;
  }
  out = negative ? -value : value;
  return true;
}

// "digits[.digits]unit" or "0", exact to the nanosecond; false otherwise.
bool parse_duration_ns(std::string_view text, std::int64_t& out) {
  if (text == "0") {
    out = 0;
    return true;
  }
  for (const Unit& unit : kUnits) {
    if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) {
      continue;
    }
    std::string_view number = text.substr(0, text.size() - unit.suffix.size());
    // "1s" must not be read as "1" + "s" when it ends in "ms", "us" or "ns".
    if (!number.empty() && (number.back() < '0' || number.back() > '9')) {
      continue;
    }
    const std::size_t dot = number.find('.');
    std::int64_t whole = 0;
    if (!parse_digits(number.substr(0, dot), whole)) {
      return false;
    }
    std::int64_t ns = 0;
    if (__builtin_mul_overflow(whole, unit.ns, &ns)) {
      return false;
    }
    if (dot != std::string_view::npos) {
      const std::string_view fraction = number.substr(dot + 1);
      std::int64_t digits = 0;
      if (fraction.size() > 18 || !parse_digits(fraction, digits)) {
        return false;
      }
      std::int64_t divisor = 1;
      for (std::size_t i = 0; i < fraction.size(); ++i) {
        divisor *= 10;
      }
      std::int64_t scaled = 0;
      // Sub-nanosecond fractions are refused rather than rounded.
      if (__builtin_mul_overflow(digits, unit.ns, &scaled) || scaled % divisor != 0) {
        return false;
      }
      if (__builtin_add_overflow(ns, scaled / divisor, &ns)) {
        return false;
      }
    }
    out = ns;
    return true;
  }
  return false;
}

std::string range_text(const ParamSpec& spec) {
  if (spec.type == ParamSpec::Type::duration) {
    return format_duration(std::chrono::nanoseconds(spec.min)) + ".." +
           format_duration(std::chrono::nanoseconds(spec.max));
  }
  return std::to_string(spec.min) + ".." + std::to_string(spec.max);
}

[[noreturn]] void bad_value(const ParamSpec& spec, std::string_view text, std::string_view why) {
  throw ParamError("bad value '" + std::string(text) + "' for " + spec.name + ": " +
                   std::string(why));
}

void check_range(const ParamSpec& spec, std::string_view text, std::int64_t value) {
  if (value < spec.min || value > spec.max) {
    bad_value(spec, text, "out of range " + range_text(spec));
  }
}

}  // namespace

// --- ParamSpec --------------------------------------------------------------------------

ParamSpec ParamSpec::integer(std::string name, std::string help, std::int64_t default_value,
                             std::int64_t min, std::int64_t max) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = Type::integer;
  spec.help = std::move(help);
  spec.min = min;
  spec.max = max;
  spec.default_number = default_value;
  return spec;
}

ParamSpec ParamSpec::duration(std::string name, std::string help,
                              std::chrono::nanoseconds default_value, std::chrono::nanoseconds min,
                              std::chrono::nanoseconds max) {
  ParamSpec spec =
      integer(std::move(name), std::move(help), default_value.count(), min.count(), max.count());
  spec.type = Type::duration;
  return spec;
}

ParamSpec ParamSpec::choice(std::string name, std::string help, std::vector<std::string> choices) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = Type::choice;
  spec.help = std::move(help);
  spec.choices = std::move(choices);
  return spec;
}

std::string ParamSpec::default_text() const {
  switch (type) {
    case Type::integer:
      return std::to_string(default_number);
    case Type::duration:
      return format_duration(std::chrono::nanoseconds(default_number));
    case Type::choice:
      return choices.empty() ? std::string() : choices.front();
  }
  return {};
}

std::string ParamSpec::allowed_text() const {
  return type == Type::choice ? join(choices, "|") : range_text(*this);
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t ns = d.count();
  if (ns == 0) {
    return "0s";
  }
  for (const Unit& unit : kUnits) {
    if (ns % unit.ns == 0) {
      return std::to_string(ns / unit.ns) + std::string(unit.suffix);
    }
  }
  return std::to_string(ns) + "ns";  // Unreachable: the last unit is 1 ns.
}

const char* to_string(Status status) noexcept {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::timeout:
      return "timeout";
    case Status::error:
      return "error";
  }
  return "error";
}

// --- Params ------------------------------------------------------------------------------

Params::Params(std::vector<ParamSpec> specs) : specs_(std::move(specs)) {
  values_.reserve(specs_.size());
  for (const auto& spec : specs_) {
    if (spec.type == ParamSpec::Type::choice && spec.choices.empty()) {
      throw std::logic_error("choice parameter " + spec.name + " has no choices");
    }
    values_.push_back(
        {spec.default_number, spec.type == ParamSpec::Type::choice ? spec.choices.front() : ""});
  }
}

std::size_t Params::index_of(std::string_view name) const {
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) {
      return i;
    }
  }
  throw ParamError("unknown parameter '" + std::string(name) + "' (valid: " + spec_names(specs_) +
                   ")");
}

std::size_t Params::typed_index(std::string_view name, ParamSpec::Type type) const {
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name != name) {
      continue;
    }
    if (specs_[i].type != type) {
      throw std::logic_error("parameter " + std::string(name) + " read with the wrong type");
    }
    return i;
  }
  throw std::logic_error("no parameter " + std::string(name));
}

void Params::set(std::string_view name, std::string_view text) {
  const std::size_t i = index_of(name);
  const ParamSpec& spec = specs_[i];
  switch (spec.type) {
    case ParamSpec::Type::integer: {
      std::int64_t value = 0;
      if (!parse_integer(text, value)) {
        bad_value(spec, text, "expected an integer in " + range_text(spec));
      }
      check_range(spec, text, value);
      values_[i].number = value;
      return;
    }
    case ParamSpec::Type::duration: {
      std::int64_t value = 0;
      if (!parse_duration_ns(text, value)) {
        bad_value(spec, text,
                  "expected a duration with a unit (" + std::string(kUnitList) + ") in " +
                      range_text(spec) + ", e.g. 200ms or 1.5s");
      }
      check_range(spec, text, value);
      values_[i].number = value;
      return;
    }
    case ParamSpec::Type::choice:
      for (const auto& choice : spec.choices) {
        if (choice == text) {
          values_[i].word = choice;
          return;
        }
      }
      bad_value(spec, text, "expected one of " + join(spec.choices, "|"));
  }
}

void Params::assign(std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw ParamError("bad assignment '" + std::string(assignment) +
                     "': expected name=value (valid names: " + spec_names(specs_) + ")");
  }
  set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

void Params::set(std::string_view name, std::int64_t value) {
  const std::size_t i = index_of(name);
  const ParamSpec& spec = specs_[i];
  if (spec.type != ParamSpec::Type::integer) {
    bad_value(spec, std::to_string(value),
              spec.type == ParamSpec::Type::duration
                  ? "expected a duration"
                  : "expected one of " + join(spec.choices, "|"));
  }
  check_range(spec, std::to_string(value), value);
  values_[i].number = value;
}

void Params::set(std::string_view name, std::chrono::nanoseconds value) {
  const std::size_t i = index_of(name);
  const ParamSpec& spec = specs_[i];
  const std::string text = format_duration(value);
  if (spec.type != ParamSpec::Type::duration) {
    bad_value(spec, text, "not a duration parameter");
  }
  check_range(spec, text, value.count());
  values_[i].number = value.count();
}

std::int64_t Params::integer(std::string_view name) const {
  return values_[typed_index(name, ParamSpec::Type::integer)].number;
}

std::chrono::nanoseconds Params::duration(std::string_view name) const {
  return std::chrono::nanoseconds(values_[typed_index(name, ParamSpec::Type::duration)].number);
}

const std::string& Params::choice(std::string_view name) const {
  return values_[typed_index(name, ParamSpec::Type::choice)].word;
}

std::string Params::text(std::string_view name) const {
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name != name) {
      continue;
    }
    switch (specs_[i].type) {
      case ParamSpec::Type::integer:
        return std::to_string(values_[i].number);
      case ParamSpec::Type::duration:
        return format_duration(std::chrono::nanoseconds(values_[i].number));
      case ParamSpec::Type::choice:
        return values_[i].word;
    }
  }
  throw std::logic_error("no parameter " + std::string(name));
}

// --- Scenario -----------------------------------------------------------------------------

Params Scenario::parse(const std::vector<std::string>& assignments) const {
  Params result = defaults();
  for (const auto& assignment : assignments) {
    result.assign(assignment);
  }
  if (validate != nullptr) {
    validate(result);
  }
  return result;
}

std::vector<BenchSet> Scenario::benchmark_sets() const {
  return bench_sets.empty() ? std::vector<BenchSet>{BenchSet{}} : bench_sets;
}

Repeatability Scenario::repeats(const Params& values) const {
  return repeatability != nullptr ? repeatability(values) : Repeatability::exact;
}

const std::string* Scenario::unit_of(std::string_view metric) const {
  for (const auto& described : metrics) {
    if (described.name == metric) {
      return &described.unit;
    }
  }
  return nullptr;
}

}  // namespace scenarios
