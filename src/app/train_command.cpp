#include <ATen/Parallel.h>

#include <cmath>
#include <iostream>
#include <optional>

#include "croma/app/commands.h"
#include "croma/app/experiment.h"
#include "croma/config/options.h"
#include "croma/distributed/communicator.h"
#include "croma/eval/few_shot.h"
#include "croma/io/checkpoint.h"
#include "croma/io/run_directory.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "croma/util/progress.h"
#include "croma/util/runtime.h"

namespace croma {
namespace {

constexpr int kKeptStepCheckpoints = 3;

nlohmann::json runtime_facts(const Communicator& comm, const torch::Device& device) {
  return {{"croma_version", CROMA_VERSION},
          {"world_size", comm.size()},
          {"device", device.str()},
          {"blas", loaded_blas()},
          {"intra_op_threads", at::get_num_threads()}};
}

}  // namespace

int run_train_command(int argc, const char* const argv[]) {
  TrainOptions o;
  if (!parse_train_options(argc, argv, o)) return 0;
  const auto comm = Communicator::world();
  at::set_num_threads(static_cast<int>(o.dist.threads));
  const auto device = resolve_device(o.dist.device, comm.local_rank());

  Experiment exp(o);
  const auto& sampler = exp.sampler();
  const auto& model = exp.model();
  sampler.check_meta_training(o.meta);
  sampler.check_evaluation(Split::kVal, o.eval);
  sampler.check_evaluation(Split::kTest, o.eval);
  if (o.eval.ways > o.meta.ways) {
    throw OptionError("--eval-ways " + std::to_string(o.eval.ways) + " exceeds --ways " +
                      std::to_string(o.meta.ways) + " (the classifier has --ways outputs)");
  }

  std::optional<RunDirectory> run;
  nlohmann::json config = o;
  config["runtime"] = runtime_facts(comm, device);
  const std::string config_text = config.dump();
  if (comm.is_root()) {
    run.emplace(RunDirectory::create(o.out.run_dir, o.out.overwrite));
    run->write_json("config.json", config);
    std::cerr << "croma train: " << comm.size() << " rank(s) x " << o.meta.tasks_per_rank
              << " task(s) per meta-step on " << device.str() << ", " << model.numel()
              << " parameters, BLAS " << loaded_blas() << "\n";
  }

  const auto method = parse_method(o.meta.method);
  const auto phases = plan_method(method, o, sampler);
  std::int64_t total_steps = 0;
  for (const auto& phase : phases) total_steps += phase.steps;
  MetaTrainer trainer(model, sampler, o.meta, o.seed, comm, device);
  trainer.set_meta_parameters(model.initial_parameters(o.seed));
  FewShotEvaluator evaluator(model, sampler, device);
  // Model selection uses meta-val classes only, at the first --eval-shots value, one seed,
  // clean labels.
  EvalOptions val_options = o.eval;
  val_options.shots = {o.eval.shots.front()};
  auto validate_now = [&]() {
    return evaluator
        .evaluate_shots(trainer.meta_parameters_on_device(), Split::kVal, val_options,
                        val_options.shots[0], o.seed)
        .mean;
  };
  auto save = [&](const std::string& name, std::int64_t step) {
    write_checkpoint(run->checkpoint(name).string(), model.layout(),
                     {trainer.meta_parameters(), step, config_text});
  };

  const bool validating = o.out.val_every > 0;
  double val_initial = NAN, best_val = -1.0;
  std::int64_t best_step = 0;
  if (comm.is_root()) {
    save("initial", 0);
    if (validating) {
      val_initial = best_val = validate_now();
      save("best", 0);
    }
  }

  ProgressReporter progress(total_steps, std::cerr, comm.is_root() && !o.out.quiet);
  StepStats last;
  std::int64_t episodes = 0;
  std::vector<std::int64_t> step_checkpoints;
  std::size_t phase_index = 0;
  std::int64_t phase_end = 0;
  for (std::int64_t step = 1; step <= total_steps; ++step) {
    if (step > phase_end) {
      const auto& phase = phases[phase_index++];
      trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
      phase_end += phase.steps;
      if (comm.is_root() && !o.out.quiet) {
        std::cerr << "phase " << phase.name << ": " << phase.steps << " steps, epsilon "
                  << phase.epsilon << "\n";
      }
    }
    last = trainer.step();
    episodes += last.episodes;
    if (o.dist.check_every > 0 && step % o.dist.check_every == 0 && !trainer.replicas_agree()) {
      throw std::runtime_error("meta-parameters of the ranks drifted apart by meta-step " +
                               std::to_string(step) + " (checksums differ)");
    }
    if (!comm.is_root()) continue;
    if (step % o.out.log_every == 0 || step == total_steps) {
      nlohmann::json line = {{"step", step}, {"episodes", episodes}, {"wall_s", progress.elapsed_seconds()}};
      for (const auto& [name, value] : last.losses) line[name + "_loss"] = value;
      run->append_metrics(line);
      progress.report(step, last.losses);
    }
    if (validating && (step % o.out.val_every == 0 || step == total_steps)) {
      const double val = validate_now();
      run->append_metrics({{"step", step}, {"val_accuracy", val}, {"val_shots", val_options.shots[0]}});
      if (val > best_val) {
        best_val = val;
        best_step = step;
        save("best", step);
      }
    }
    if (o.out.checkpoint_every > 0 && step % o.out.checkpoint_every == 0) {
      save("step_" + std::to_string(step), step);
      step_checkpoints.push_back(step);
      if (static_cast<int>(step_checkpoints.size()) > kKeptStepCheckpoints) {
        std::filesystem::remove(run->checkpoint("step_" + std::to_string(step_checkpoints.front())));
        step_checkpoints.erase(step_checkpoints.begin());
      }
    }
  }
  if (!trainer.replicas_agree()) {
    throw std::runtime_error("meta-parameters of the ranks differ at the end of training");
  }
  const auto [target_items_used, target_labels_used] = trainer.target_usage();
  if (!comm.is_root()) return 0;

  save("final", total_steps);
  const double wall = progress.elapsed_seconds();
  nlohmann::json summary = {
      {"command", "train"},
      {"run_dir", o.out.run_dir},
      {"method", o.meta.method},
      {"steps", total_steps},
      {"world_size", comm.size()},
      {"tasks_per_rank", o.meta.tasks_per_rank},
      {"episodes", episodes},
      {"wall_s", wall},
      {"steps_per_s", wall > 0 ? static_cast<double>(total_steps) / wall : 0.0},
      {"target_samples_used", target_items_used},
      {"target_labels_used", target_labels_used}};
  for (const auto& [name, value] : last.losses) summary["final_" + name + "_loss"] = value;
  if (validating) {
    summary["val_shots"] = val_options.shots[0];
    summary["val_accuracy_initial"] = val_initial;
    summary["best_val_accuracy"] = best_val;
    summary["best_step"] = best_step;
  }
  run->write_json("summary.json", summary);
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
