#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

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

namespace {

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

std::map<std::string, std::string> load_rules(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the rule catalogue");
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
