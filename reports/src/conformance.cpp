#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "reports/report.hpp"

namespace reports {

std::vector<ConformanceRow> load_conformance(const std::string& path) {
  const nlohmann::json json = read_json_file(path);
  if (!json.is_object() || !json.contains("rows") || !json["rows"].is_array()) {
    throw InputError(path, "field rows: missing or not an array");
  }
  std::vector<ConformanceRow> rows;
  const auto& entries = json["rows"];
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    const std::string where = "rows[" + std::to_string(i) + "]";
    ConformanceRow row;
    for (auto [key, field] : {std::pair{"backend", &row.backend}, std::pair{"rule", &row.rule},
                              std::pair{"result", &row.result}, std::pair{"reason", &row.reason}}) {
      if (!entry.is_object() || !entry.contains(key) || !entry[key].is_string()) {
        throw InputError(path, "field " + where + "." + key + ": missing or not a string");
      }
      *field = entry[key].get<std::string>();
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<std::string, std::string> load_rules(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the rule catalogue");
  // "- `LOOP-RUC-01` **[DOC]** run_until_complete(f) runs ..."
  static const std::regex rule_line(R"(^- `([A-Z]+(?:-[A-Z0-9]+)+)` (.*)$)");
  static const std::regex markup(R"(\*\*|\*|`)");
  std::map<std::string, std::string> rules;
  std::string line;
  std::smatch match;
  while (std::getline(in, line)) {
    if (std::regex_match(line, match, rule_line)) {
      rules[match[1]] = std::regex_replace(match[2].str(), markup, "");
    }
  }
  return rules;
}

}  // namespace reports
