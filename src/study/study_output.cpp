#include "croma/study/study_output.h"

namespace croma {

std::vector<Column> study_columns(const std::vector<CellResult>& cells) {
  std::vector<Column> cols;
  auto add = [&](const std::string& name, auto get) {
    Column c{name, {}};
    for (const auto& r : cells) c.values.push_back(static_cast<double>(get(r)));
    cols.push_back(std::move(c));
  };
  add("sigma_w2", [](const CellResult& r) { return r.setting.sigma_w2; });
  add("n_align", [](const CellResult& r) { return r.setting.n_align; });
  add("d", [](const CellResult& r) { return r.setting.d; });
  add("sigma2", [](const CellResult& r) { return r.setting.sigma2; });
  add("n1", [](const CellResult& r) { return r.setting.n1; });
  add("n2", [](const CellResult& r) { return r.setting.n2; });
  add("condition", [](const CellResult& r) { return r.setting.condition; });
  add("seed", [](const CellResult& r) { return r.seed; });
  add("trials", [](const CellResult& r) { return r.trials; });
  struct Part {
    const char* name;
    ErrorStats CellResult::*stats;
    double CellResult::*theory;
  };
  const Part parts[] = {{"supervised", &CellResult::supervised, &CellResult::theory_supervised},
                        {"source", &CellResult::source, &CellResult::theory_source},
                        {"cross", &CellResult::cross, &CellResult::theory_cross}};
  for (const auto& part : parts) {
    const std::string n = part.name;
    add(n + "_mean", [&](const CellResult& r) { return (r.*part.stats).mean; });
    add(n + "_std", [&](const CellResult& r) { return (r.*part.stats).std; });
    add(n + "_sem", [&](const CellResult& r) { return (r.*part.stats).sem; });
    add(n + "_theory", [&](const CellResult& r) { return r.*part.theory; });
    add(n + "_z", [&](const CellResult& r) {
      const auto& s = r.*part.stats;
      return s.sem > 0 ? (s.mean - r.*part.theory) / s.sem : 0.0;
    });
  }
  add("paper_supervised", [](const CellResult& r) { return r.paper_supervised; });
  add("paper_cross", [](const CellResult& r) { return r.paper_cross; });
  return cols;
}

std::vector<Column> weak_columns(const std::vector<WeakCell>& cells) {
  std::vector<Column> cols = {{"n", {}}, {"sets", {}}, {"trials", {}}, {"centroid_mean", {}},
                              {"centroid_std", {}}, {"centroid_sem", {}}, {"pairing_mean", {}},
                              {"pairing_std", {}}, {"pairing_sem", {}}, {"strong_theory", {}}};
  for (const auto& c : cells) {
    const double row[] = {double(c.n), double(c.sets), double(c.trials), c.centroid.mean, c.centroid.std,
                          c.centroid.sem, c.pairing.mean, c.pairing.std, c.pairing.sem, c.strong_theory};
    for (std::size_t k = 0; k < cols.size(); ++k) cols[k].values.push_back(row[k]);
  }
  return cols;
}

}  // namespace croma
