#pragma once
// Per-method defaults: for each baseline, the options whose default differs from the struct
// defaults of options.h (which are CroMA's own). They come from the tuning searches of every
// data set (docs/evaluation.md, "Defaults from every data set"): per method, the configuration
// with the smallest mean shortfall from that method's best meta-val accuracy across the
// searches, as analysis/defaults_evidence.py --json writes it to
// docs/results/method-defaults.json. tests/app/method_defaults_test.sh holds this table to that
// file, so a new search that moves a default shows up as a failing test until both agree.
//
// Why a layer and not the structs: CroMA's settings made three baselines collapse to chance;
// one struct default cannot be every method's. An option given on the command line or in a
// --config file always wins; config.json stores the resolved values, so a run and its resume
// never depend on this table. parse_train_options applies it only to options that start from
// the struct defaults: croma bench starts from its own fixed problem and keeps it for every
// method, so that its per-method speeds stay comparable.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "croma/config/options.h"

namespace croma {

struct MethodDefault {
  std::string option;  // a `croma train` option, without "--"
  std::string value;   // as typed on the command line
};

// The method's entries ({} for croma and for a name no method has), in a fixed order.
const std::vector<MethodDefault>& method_defaults(const std::string& method);

// The methods that have entries.
std::vector<std::string> methods_with_own_defaults();

// Sets each of o.meta.method's defaults whose option is not in `given` (the options the
// command line or a --config file named).
void apply_method_defaults(const std::set<std::string>& given, TrainOptions& o);

}  // namespace croma
