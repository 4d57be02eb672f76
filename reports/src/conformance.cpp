#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reports/report.hpp"

namespace reports {

namespace {

// What a conformance check can end in (conformance/harness.hpp).
const std::string kResults[] = {"pass", "fail", "compat", "skip"};

// "LOOP-RUC-01": capitals and digits in dash-separated parts.
bool is_rule_id(const std::string& text) {
  if (text.find('-') == std::string::npos || text.front() == '-' || text.back() == '-') {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

ConformanceMatrix parse_conformance(const std::string& path, const std::string& text) {
  const nlohmann::json json = parse_json(path, text);
  if (!json.is_object()) {
    throw InputError(path, "top level: expected object, found " + type_in_message(json));
  }
  const auto entries = json.find("rows");
  if (entries == json.end() || !entries->is_array()) {
    throw InputError(path, "field rows: missing or not an array");
  }
  if (entries->empty()) throw InputError(path, "field rows: empty: the matrix has no results");
  std::vector<ConformanceRow> rows;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const auto& entry = (*entries)[i];
    const std::string where = "rows[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      throw InputError(path,
                       "field " + where + ": expected object, found " + type_in_message(entry));
    }
    ConformanceRow row;
    for (auto [key, field] : {std::pair{"backend", &row.backend}, std::pair{"rule", &row.rule},
                              std::pair{"result", &row.result}, std::pair{"reason", &row.reason}}) {
      const auto value = entry.find(key);
      if (value == entry.end() || !value->is_string()) {
        throw InputError(path, "field " + where + "." + key + ": missing or not a string");
      }
      *field = value->get<std::string>();
    }
    if (std::find(std::begin(kResults), std::end(kResults), row.result) == std::end(kResults)) {
      throw InputError(path, "field " + where +
                                 ".result: expected pass, fail, compat or skip, found " +
                                 quote_input(row.result));
    }
    rows.push_back(std::move(row));
  }
  ConformanceMatrix matrix{std::move(rows), std::nullopt};
  if (const auto tests = json.find("tests"); tests != json.end()) {
    if (!tests->is_object()) {
      throw InputError(path, "field tests: expected object, found " + type_in_message(*tests));
    }
    TestTotals totals;
    for (auto [key, count] :
         {std::pair{"run", &totals.run}, std::pair{"passed", &totals.passed},
          std::pair{"skipped", &totals.skipped}, std::pair{"failed", &totals.failed}}) {
      const auto value = tests->find(key);
      if (value == tests->end() || !value->is_number_integer() || value->get<std::int64_t>() < 0) {
        throw InputError(path, std::string("field tests.") + key + ": missing or not a count");
      }
      *count = value->get<std::int64_t>();
    }
    matrix.tests = totals;
  }
  return matrix;
}

ConformanceMatrix load_conformance(const std::string& path) {
  return parse_conformance(path, read_input_file(path));
}

std::map<std::string, std::string> load_rules(const std::string& path) {
  std::istringstream in(read_input_file(path));
  // A rule is one line: "- `LOOP-RUC-01` **[DOC]** run_until_complete(f) runs ...".
  const std::string opening = "- `";
  std::map<std::string, std::string> rules;
  std::string line;
  while (std::getline(in, line)) {
    const auto close = line.find('`', opening.size());
    if (line.rfind(opening, 0) != 0 || close == std::string::npos) continue;
    const std::string id = line.substr(opening.size(), close - opening.size());
    if (!is_rule_id(id)) continue;
    std::string text;
    for (const char c : line.substr(std::min(line.size(), close + 2))) {
      if (c != '*' && c != '`') text += c;  // Markdown emphasis and code marks.
    }
    rules[id] = text;
  }
  return rules;
}

}  // namespace reports
