// Every rule ID of SEMANTICS.md areas 1-9 and of the repository's own
// catalogues (streams-catalogue.md, core-catalogue.md) has a conformance test
// on every backend, and every conformance test is named after a rule that
// exists: a rule can be skipped with a reason, never silently left out.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "harness.hpp"

namespace conformance {
namespace {

// The rule IDs listed in areas 1-9 (area 10 onwards is a watch-list, not rules).
std::set<std::string> catalogue_ids(std::istream& in) {
  std::set<std::string> ids;
  const std::string opening = "- `";
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("## 10.", 0) == 0) break;
    if (line.rfind(opening, 0) != 0) continue;
    const auto end = line.find('`', opening.size());
    if (end == std::string::npos) continue;
    const std::string id = line.substr(opening.size(), end - opening.size());
    // A rule ID: upper-case words and a number joined by '-', e.g. Q-SD-01.
    const bool well_formed = !id.empty() && std::isdigit(static_cast<unsigned char>(id.back())) &&
                             id.find('-') != std::string::npos &&
                             std::all_of(id.begin(), id.end(), [](char c) {
                               return std::isupper(static_cast<unsigned char>(c)) ||
                                      std::isdigit(static_cast<unsigned char>(c)) || c == '-';
                             });
    if (well_formed) ids.insert(id);
  }
  return ids;
}

// Rule IDs with a Conformance test, per backend.
std::map<std::string, std::set<std::string>> tested_ids() {
  std::map<std::string, std::set<std::string>> tested;
  const auto* unit = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit->total_test_suite_count(); ++i) {
    const auto* suite = unit->GetTestSuite(i);
    if (std::string(suite->name()) != "Conformance") continue;
    for (int j = 0; j < suite->total_test_count(); ++j) {
      std::string name = suite->GetTestInfo(j)->name();  // e.g. LOOP_RUC_01/epoll
      const auto slash = name.find('/');
      std::string rule = name.substr(0, slash);
      for (char& c : rule) {
        if (c == '_') c = '-';
      }
      tested[name.substr(slash + 1)].insert(rule);
    }
  }
  return tested;
}

}  // namespace

TEST(Catalogue, EveryRuleHasATestOnEveryBackend) {
  std::ifstream in(LOOPBENCH_SEMANTICS_MD);
  if (!in) GTEST_SKIP() << "catalogue not found at " << LOOPBENCH_SEMANTICS_MD;
  auto ids = catalogue_ids(in);
  EXPECT_EQ(ids.size(), 108U) << "SEMANTICS.md areas 1-9 changed; update this count on purpose";
  // The repository's own catalogues, with their rule counts.
  const std::pair<const char*, std::size_t> own_catalogues[] = {{LOOPBENCH_STREAMS_CATALOGUE, 8},
                                                                {LOOPBENCH_CORE_CATALOGUE, 2}};
  for (const auto& [path, count] : own_catalogues) {
    std::ifstream own(path);
    ASSERT_TRUE(own) << "cannot read " << path;
    const auto own_ids = catalogue_ids(own);
    EXPECT_EQ(own_ids.size(), count) << path << " changed; update this count on purpose";
    ids.insert(own_ids.begin(), own_ids.end());
  }
  const auto tested = tested_ids();
  ASSERT_EQ(tested.size(), backend_names().size());
  for (const auto& [backend, rules] : tested) {
    for (const auto& id : ids) EXPECT_TRUE(rules.count(id)) << backend << " has no test for " << id;
    for (const auto& rule : rules)
      EXPECT_TRUE(ids.count(rule)) << rule << " is not a catalogue rule";
  }
}

}  // namespace conformance
