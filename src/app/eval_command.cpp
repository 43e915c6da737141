#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>

#include "croma/app/commands.h"
#include "croma/app/experiment.h"
#include "croma/config/options.h"
#include "croma/distributed/communicator.h"
#include "croma/eval/few_shot.h"
#include "croma/io/checkpoint.h"
#include "croma/io/run_directory.h"
#include "croma/util/runtime.h"

namespace croma {
namespace {

nlohmann::json result_json(const FewShotResult& trained, const FewShotResult& initial) {
  return {{"shots", trained.shots},
          {"accuracy_mean", trained.mean},
          {"accuracy_std", trained.std},
          {"initial_accuracy_mean", initial.mean},
          {"initial_accuracy_std", initial.std},
          {"task_accuracy", trained.task_accuracy},
          {"initial_task_accuracy", initial.task_accuracy}};
}

}  // namespace

int run_eval_command(int argc, const char* const argv[]) {
  EvalCommandOptions e;
  if (!parse_eval_options(argc, argv, e)) return 0;
  const auto run = RunDirectory::open(e.run_dir);
  TrainOptions o;
  from_json(run.read_json("config.json"), o);
  // The run's evaluation settings are the defaults; the command line overrides them.
  EvalCommandOptions with_run_defaults;
  with_run_defaults.eval = o.eval;
  parse_eval_options(argc, argv, with_run_defaults);
  e = with_run_defaults;

  const auto comm = Communicator::world();
  if (!comm.is_root()) return 0;  // evaluation is cheap; one rank does it
  at::set_num_threads(static_cast<int>(e.threads));
  const auto device = resolve_device(e.device, comm.local_rank());
  const Split split = e.split == "val" ? Split::kVal : Split::kTest;

  Experiment exp(o);
  exp.sampler().check_evaluation(split, e.eval);
  const bool named = e.checkpoint == "final" || e.checkpoint == "best" || e.checkpoint == "initial";
  const auto path = named ? run.checkpoint(e.checkpoint).string() : e.checkpoint;
  const auto checkpoint = read_checkpoint(path, exp.model().layout());
  const auto initial = exp.model().initial_parameters(o.seed);
  const std::uint64_t seed = e.eval_seed != 0 ? e.eval_seed : o.seed;

  FewShotEvaluator evaluator(exp.model(), exp.sampler(), device);
  nlohmann::json results = nlohmann::json::array();
  std::cerr << "croma eval: " << e.eval.ways << "-way, " << e.eval.tasks << " tasks on "
            << to_string(split) << " classes, checkpoint " << path << " (step " << checkpoint.step
            << ")\n";
  for (auto k : e.eval.shots) {
    const auto trained = evaluator.evaluate_shots(checkpoint.parameters, split, e.eval, k, seed);
    const auto untrained = evaluator.evaluate_shots(initial, split, e.eval, k, seed);
    char line[160];
    std::snprintf(line, sizeof line, "  %2lld-shot: %.1f%% +- %.1f (untrained start %.1f%% +- %.1f)\n",
                  static_cast<long long>(k), 100 * trained.mean, 100 * trained.std,
                  100 * untrained.mean, 100 * untrained.std);
    std::cerr << line;
    results.push_back(result_json(trained, untrained));
  }
  nlohmann::json summary = {{"command", "eval"},
                            {"run_dir", e.run_dir},
                            {"checkpoint", path},
                            {"checkpoint_step", checkpoint.step},
                            {"split", to_string(split)},
                            {"ways", e.eval.ways},
                            {"tasks", e.eval.tasks},
                            {"queries", e.eval.queries},
                            {"eval_seed", seed},
                            {"head_only", e.eval.head_only},
                            {"results", results}};
  run.write_json("eval.json", summary);
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
