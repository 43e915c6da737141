#include <ATen/Parallel.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <regex>

#include "croma/app/commands.h"
#include "croma/app/experiment.h"
#include "croma/app/resume.h"
#include "croma/config/options.h"
#include "croma/data/feature_shards.h"
#include "croma/distributed/collective_error.h"
#include "croma/distributed/communicator.h"
#include "croma/eval/few_shot.h"
#include "croma/io/checkpoint.h"
#include "croma/io/read_guard.h"
#include "croma/io/run_directory.h"
#include "croma/meta/hyperparameters.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "croma/util/progress.h"
#include "croma/util/runtime.h"
#include "croma/util/stop_signal.h"
#include "croma/data/standardize.h"

namespace croma {
namespace {

namespace fs = std::filesystem;

constexpr int kKeptStepCheckpoints = 3;

nlohmann::json runtime_facts(const Communicator& comm, const torch::Device& device) {
  return {{"croma_version", CROMA_VERSION},
          {"world_size", comm.size()},
          {"device", device.str()},
          {"blas", loaded_blas()},
          {"intra_op_threads", at::get_num_threads()}};
}

// Keeps the newest kKeptStepCheckpoints step_N.h5 files (by N) and removes the others.
void prune_step_checkpoints(const fs::path& run_dir) {
  static const std::regex name(R"(step_([0-9]+)\.h5)");
  std::vector<std::pair<std::int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir / "checkpoints", ec)) {
    std::smatch m;
    const auto file = entry.path().filename().string();
    if (std::regex_match(file, m, name)) found.emplace_back(std::stoll(m[1]), entry.path());
  }
  std::sort(found.begin(), found.end());
  for (std::size_t i = 0; i + kKeptStepCheckpoints < found.size(); ++i) fs::remove(found[i].second, ec);
}

// What the root rank keeps across meta-steps besides the trainer; saved in every resumable
// checkpoint so that a resumed run reports the same best model and totals.
struct Bookkeeping {
  bool has_val_initial = false;
  double val_initial = NAN;
  double best_val = -1.0;
  std::int64_t best_step = 0;
  std::int64_t episodes = 0;
  // Target items (and labelled items) meta-training has read so far, over all ranks.
  std::vector<std::int64_t> target_seen, target_labelled;

  std::string to_json_text() const {
    nlohmann::json j = {{"best_val", best_val}, {"best_step", best_step}, {"episodes", episodes},
                        {"target_seen", target_seen}, {"target_labelled", target_labelled}};
    if (has_val_initial) j["val_initial"] = val_initial;
    return j.dump();
  }
  static Bookkeeping from_json_text(const std::string& text) {
    Bookkeeping b;
    const auto j = nlohmann::json::parse(text.empty() ? "{}" : text);
    b.best_val = j.value("best_val", -1.0);
    b.best_step = j.value("best_step", std::int64_t{0});
    b.episodes = j.value("episodes", std::int64_t{0});
    b.target_seen = j.value("target_seen", std::vector<std::int64_t>{});
    b.target_labelled = j.value("target_labelled", std::vector<std::int64_t>{});
    if (j.contains("val_initial")) {
      b.has_val_initial = true;
      b.val_initial = j.at("val_initial").get<double>();
    }
    return b;
  }
};

// Rank 0's decision about the run directory, made before any rank trains.
struct StartPlan {
  std::string error;                 // non-empty: refuse, every rank throws it
  std::string runtime_error;         // non-empty: cannot run here (e.g. disk space); rank 0 reports it
  std::optional<ResumePoint> resume;  // set: continue from this checkpoint
  std::int64_t tasks_per_rank = 0;    // with resume: T on this job's ranks (resume_layout)
  bool already_complete = false;      // --resume of a finished run: print its summary
  std::vector<SkippedCheckpoint> skipped;  // unreadable checkpoints newer than `resume`
};

StartPlan plan_start(const TrainOptions& o, const nlohmann::json& config, const Communicator& comm,
                     const ParamLayout& layout, std::int64_t total_steps, bool multi_phase) {
  StartPlan plan;
  const fs::path root = o.out.run_dir;
  // Checkpoints the run keeps at once (initial, best, final, the newest step_N files, and one
  // being written), each the parameters plus ~16 KiB of state per task slot, and the metrics.
  const std::uintmax_t checkpoint_bytes = static_cast<std::uintmax_t>(layout.numel()) * 4 +
                                          16384u * static_cast<std::uintmax_t>(comm.size() * o.meta.tasks_per_rank) + 65536u;
  const int kept = 3 + kKeptStepCheckpoints + 1;
  const std::uintmax_t metrics_bytes = 512u * static_cast<std::uintmax_t>(total_steps / std::max<std::int64_t>(1, o.out.log_every) + 1);
  try {
    require_free_space(root, kept * checkpoint_bytes + metrics_bytes,
                       std::to_string(kept) + " checkpoints of " + std::to_string(layout.numel()) +
                           " parameters and the metrics");
  } catch (const std::exception& e) {
    plan.runtime_error = e.what();
    return plan;
  }
  if (!o.out.resume || !fs::exists(root / "config.json")) return plan;
  nlohmann::json previous;
  try {
    previous = read_json_file(root / "config.json");
  } catch (const std::exception& e) {
    plan.error = std::string("--resume: ") + e.what();
    return plan;
  }
  auto mismatch = config_mismatch(previous, config);
  // --steps may grow to extend a run, but a method of several phases places its phase
  // boundaries by --steps: there, another value would change the steps already taken.
  if (mismatch.empty() && multi_phase && previous.contains("meta") &&
      previous["meta"].value("steps", std::int64_t{-1}) != o.meta.steps) {
    mismatch = "meta.steps is " + previous["meta"]["steps"].dump() + " in the run and " +
               std::to_string(o.meta.steps) + " now, and --method " + o.meta.method +
               " places its phases by --steps";
  }
  if (!mismatch.empty()) {
    plan.error = "--resume: the run in '" + root.string() + "' has another configuration (" +
                 mismatch + "); pass the run's options, or choose another --run-dir";
    return plan;
  }
  {
    ReadGuard guard("croma train", read_time_limit());
    plan.resume = latest_resumable_checkpoint(root, layout, &plan.skipped);
  }
  for (const auto& s : plan.skipped) {
    std::cerr << "croma train: warning: skipping " << s.reason << "; falling back to "
              << (plan.resume ? "the newest readable checkpoint" : "a fresh start") << "\n";
  }
  if (!plan.resume) return plan;  // nothing saved yet: start again from step 0
  const auto& st = *plan.resume->checkpoint.state;
  const auto layout_here = resume_layout(st, comm.size(), o.meta.tasks_per_rank);
  if (!layout_here.error.empty()) {
    plan.error = "--resume: cannot continue '" + plan.resume->path.string() + "': " + layout_here.error;
    return plan;
  }
  plan.tasks_per_rank = layout_here.tasks_per_rank;
  if (plan.resume->checkpoint.step > total_steps) {
    plan.error = "--resume: the run is at meta-step " + std::to_string(plan.resume->checkpoint.step) +
                 ", beyond the " + std::to_string(total_steps) + " meta-steps this configuration runs";
    return plan;
  }
  plan.already_complete = plan.resume->checkpoint.step == total_steps &&
                          plan.resume->path.filename() == "final.h5" &&
                          fs::exists(root / "summary.json");
  return plan;
}

// --print-hparams: the method's registry entries with this command line's values as defaults.
// Nothing is written and no rank but 0 prints.
int print_hyperparameters(const TrainOptions& o) {
  if (Communicator::world().is_root()) {
    std::cout << hyperparameters_json(parse_method(o.meta.method), o).dump(2) << std::endl;
  }
  return 0;
}

}  // namespace

int run_train_command(int argc, const char* const argv[]) {
  TrainOptions o;
  if (!parse_train_options(argc, argv, o)) return 0;
  if (o.print_hparams) return print_hyperparameters(o);
  o.data = resolve_shard_paths(o.data);
  const auto comm = Communicator::world();
  at::set_num_threads(static_cast<int>(o.dist.threads));
  const auto device = resolve_device(o.dist.device, comm.local_rank());
  install_stop_handlers();
  // Where each rank runs and which device it chose: one stderr line per rank (multi-rank runs
  // only) and, gathered on rank 0, summary.json's "placement". Mapping mistakes across nodes
  // (cuda:<local rank> counted per job instead of per node) show here first.
  std::vector<std::string> placement;
  {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const auto mine = nlohmann::json{{"rank", comm.rank()},
                                     {"host", std::string(host)},
                                     {"local_rank", comm.local_rank()},
                                     {"local_size", comm.local_size()},
                                     {"device", device.str()}}
                          .dump();
    if (comm.size() > 1) std::cerr << "croma train: placement " + mine + "\n" << std::flush;
    placement = comm.gather_strings(mine);
  }

  Experiment exp(o, "croma train");
  o.prep = exp.prep();  // "auto" resolved: config.json records what this run does
  const auto& sampler = exp.sampler();
  const auto& model = exp.model();
  // Model selection uses meta-val tasks only, at the first --eval-shots value, one seed,
  // clean labels.
  EvalOptions val_options = o.eval;
  val_options.shots = {o.eval.shots.front()};
  val_options.tasks = o.out.val_tasks;
  val_options.repeats = 1;
  const bool validating = o.out.val_every > 0;
  sampler.check_meta_training(o.meta);
  // Validation's constraints matter only when validation runs.
  if (validating) sampler.check_evaluation(Split::kVal, val_options);
  sampler.check_evaluation(Split::kTest, o.eval);
  if (o.eval.ways > o.meta.ways) {
    throw OptionError("--eval-ways " + std::to_string(o.eval.ways) + " exceeds --ways " +
                      std::to_string(o.meta.ways) + " (the classifier has --ways outputs)");
  }

  const auto phases = plan_method(parse_method(o.meta.method), o, sampler);
  std::int64_t total_steps = 0;
  for (const auto& phase : phases) total_steps += phase.steps;

  nlohmann::json config = o;
  // Derived from the data when the run starts, and kept with it (so in every checkpoint's
  // config attribute too): croma eval applies these very statistics and checks the held-out
  // validation items against these ids.
  if (exp.standardization()) config["standardization"] = *exp.standardization();
  if (o.prep.val_split == "items") config["val_items"] = exp.held_out_val_items();
  config["runtime"] = runtime_facts(comm, device);

  // Rank 0 decides how to start and tells the others: refusals become the same OptionError on
  // every rank, so the job fails with one message and no rank waits for another.
  StartPlan plan;
  if (comm.is_root()) plan = plan_start(o, config, comm, model.layout(), total_steps, phases.size() > 1);
  std::string decision = comm.is_root() ? nlohmann::json{{"error", plan.error},
                                                         {"runtime_error", plan.runtime_error},
                                                         {"resume", plan.resume.has_value()},
                                                         {"tasks_per_rank", plan.tasks_per_rank},
                                                         {"complete", plan.already_complete}}
                                              .dump()
                                        : std::string();
  comm.broadcast_string(decision);
  const auto decided = nlohmann::json::parse(decision);
  if (!decided.at("error").get<std::string>().empty()) {
    throw OptionError(decided.at("error").get<std::string>());
  }
  if (!decided.at("runtime_error").get<std::string>().empty()) {
    throw CollectiveError(decided.at("runtime_error").get<std::string>(), comm.is_root());
  }
  const bool resuming = decided.at("resume").get<bool>();
  std::string config_text = config.dump();
  if (resuming && decided.at("tasks_per_rank").get<std::int64_t>() != o.meta.tasks_per_rank) {
    // The same task slots on another number of ranks: this run's T follows from the
    // checkpoint's R*T, and its config says so.
    const auto given = o.meta.tasks_per_rank;
    o.meta.tasks_per_rank = decided.at("tasks_per_rank").get<std::int64_t>();
    config["meta"]["tasks_per_rank"] = o.meta.tasks_per_rank;
    config_text = config.dump();
    if (comm.is_root()) {
      std::cerr << "croma train: continuing the run's " << comm.size() * o.meta.tasks_per_rank << " task slots as "
                << comm.size() << " rank(s) x " << o.meta.tasks_per_rank << " (--tasks-per-rank " << given
                << " would change their number)\n";
    }
  }
  if (decided.at("complete").get<bool>()) {
    if (!comm.is_root()) return 0;
    const auto summary = read_json_file(fs::path(o.out.run_dir) / "summary.json");
    std::cerr << "croma train: the run in " << o.out.run_dir << " is complete (meta-step "
              << total_steps << "); nothing to do\n";
    std::cout << summary.dump() << std::endl;
    return 0;
  }

  MetaTrainer trainer(model, sampler, o.meta, o.seed, comm, device);
  // --inner-loop: refuse "fused" for a phase the kernels cannot run before anything is written.
  trainer.set_inner_loop(o.meta.inner_loop);
  std::vector<std::string> inner_loops;  // the numerical path of each phase, for the summary
  for (const auto& phase : phases) {
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    inner_loops.push_back(trainer.fused_inner_loop() ? "fused" : "autograd");
  }
  Bookkeeping book;
  std::int64_t start_step = 0;
  std::optional<RunDirectory> run;
  if (resuming) {
    std::vector<std::string> per_rank;  // root: each rank's slot states, as a JSON array
    torch::Tensor parameters = torch::empty({model.numel()}, torch::kFloat32);
    if (comm.is_root()) {
      const auto& ck = plan.resume->checkpoint;
      // Slot s = r*T + t, in the checkpoint's slot order, goes to rank s / T of this run's
      // layout (which may differ from the one that wrote it).
      const auto T = static_cast<std::size_t>(o.meta.tasks_per_rank);
      for (std::int64_t r = 0; r < comm.size(); ++r) {
        const auto first = ck.state->rng_states.begin() + static_cast<std::ptrdiff_t>(r * T);
        per_rank.push_back(nlohmann::json(std::vector<std::string>(first, first + T)).dump());
      }
      parameters = ck.parameters;
      start_step = ck.step;
      book = Bookkeeping::from_json_text(ck.state->bookkeeping_json);
      trainer.mark_target_usage(book.target_seen, book.target_labelled);
      run.emplace(RunDirectory::reopen_for_training(o.out.run_dir, start_step));
      run->write_json("config.json", config);
      std::cerr << "croma train: resuming " << o.out.run_dir << " from " << plan.resume->path.string()
                << " (meta-step " << start_step << " of " << total_steps << ")\n";
    }
    trainer.set_meta_parameters(parameters);
    trainer.set_rng_states(
        nlohmann::json::parse(comm.scatter_strings(per_rank)).get<std::vector<std::string>>());
    std::string step_text = std::to_string(start_step);
    comm.broadcast_string(step_text);
    start_step = std::stoll(step_text);
    trainer.set_steps_done(start_step);
  } else {
    if (comm.is_root()) {
      // --resume of a run that never saved a resumable checkpoint starts it again.
      run.emplace(RunDirectory::create(o.out.run_dir, o.out.overwrite || o.out.resume));
      run->write_json("config.json", config);
    }
    trainer.set_meta_parameters(model.initial_parameters(o.seed));
  }
  if (comm.is_root()) {
    std::cerr << "croma train: " << comm.size() << " rank(s) x " << o.meta.tasks_per_rank
              << " task(s) per meta-step on " << device.str() << ", " << model.numel()
              << " parameters, BLAS " << loaded_blas() << "\n";
  }

  FewShotEvaluator evaluator(model, sampler, device);
  auto validate_now = [&]() {
    return evaluator
        .evaluate_shots(trainer.meta_parameters_on_device(), Split::kVal, val_options,
                        val_options.shots[0], o.seed)
        .mean;
  };
  auto save = [&](const std::string& name, std::int64_t step) {
    write_checkpoint(run->checkpoint(name).string(), model.layout(),
                     {trainer.meta_parameters(), step, config_text, std::nullopt});
  };
  // Collective: rank 0 gathers every rank's stream states and writes one checkpoint that the
  // run can continue from.
  auto save_resumable = [&](const std::string& name, std::int64_t step) {
    std::tie(book.target_seen, book.target_labelled) = trainer.target_usage_items();
    const auto gathered = comm.gather_strings(nlohmann::json(trainer.rng_states()).dump());
    if (!comm.is_root()) return;
    TrainingState state;
    state.world_size = comm.size();
    state.tasks_per_rank = o.meta.tasks_per_rank;
    for (const auto& text : gathered) {
      for (auto& s : nlohmann::json::parse(text).get<std::vector<std::string>>()) {
        state.rng_states.push_back(std::move(s));
      }
    }
    state.bookkeeping_json = book.to_json_text();
    write_checkpoint(run->checkpoint(name).string(), model.layout(),
                     {trainer.meta_parameters(), step, config_text, std::move(state)});
  };

  if (comm.is_root() && !resuming) {
    save("initial", 0);
    if (validating) {
      book.val_initial = book.best_val = validate_now();
      book.has_val_initial = true;
      save("best", 0);
    }
  }

  ProgressReporter progress(total_steps - start_step, std::cerr, comm.is_root() && !o.out.quiet);
  StepStats last;
  // The phase that holds meta-step `step` (1-based), and the step where it ends.
  std::size_t phase_index = 0;
  std::int64_t phase_end = 0;
  auto enter_phase_of = [&](std::int64_t step) {
    while (step > phase_end) phase_end += phases[phase_index++].steps;
    const auto& phase = phases[phase_index - 1];
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    if (comm.is_root() && !o.out.quiet && phases.size() > 1) {
      std::cerr << "phase " << phase.name << ": meta-steps " << phase_end - phase.steps + 1 << "-"
                << phase_end << ", epsilon " << phase.epsilon << "\n";
    }
  };
  for (std::int64_t step = start_step + 1; step <= total_steps; ++step) {
    if (step > phase_end) enter_phase_of(step);
    last = trainer.step(stop_requested());
    book.episodes += last.episodes;
    if (o.dist.check_every > 0 && step % o.dist.check_every == 0 && !trainer.replicas_agree()) {
      throw std::runtime_error("meta-parameters of the ranks drifted apart by meta-step " +
                               std::to_string(step) + " (checksums differ)");
    }
    if (comm.is_root()) {
      if (step % o.out.log_every == 0 || step == total_steps) {
        nlohmann::json line = {{"step", step}, {"episodes", book.episodes}, {"wall_s", progress.elapsed_seconds()}};
        for (const auto& [name, value] : last.losses) line[name + "_loss"] = value;
        run->append_metrics(line);
        progress.report(step - start_step, last.losses);
      }
      if (validating && (step % o.out.val_every == 0 || step == total_steps)) {
        const double val = validate_now();
        run->append_metrics({{"step", step}, {"val_accuracy", val}, {"val_shots", val_options.shots[0]}});
        if (val > book.best_val) {
          book.best_val = val;
          book.best_step = step;
          save("best", step);
        }
      }
    }
    // Every rank knows both conditions (the stop request came back from the allreduce), so
    // the collective save below is entered by all ranks at the same step.
    const bool stopping = last.stop_requested && step < total_steps;
    if ((o.out.checkpoint_every > 0 && step % o.out.checkpoint_every == 0) || stopping) {
      save_resumable("step_" + std::to_string(step), step);
      if (comm.is_root()) prune_step_checkpoints(run->root());
    }
    if (stopping) {
      if (comm.is_root()) {
        std::cerr << "croma train: stop requested (SIGTERM/SIGUSR1); checkpointed meta-step " << step
                  << " to " << run->checkpoint("step_" + std::to_string(step)).string()
                  << "; continue with --resume (exit code " << kExitCheckpointed << ")\n";
        std::cout << nlohmann::json{{"command", "train"},
                                    {"run_dir", o.out.run_dir},
                                    {"stopped_at_step", step},
                                    {"steps", total_steps},
                                    {"exit_code", kExitCheckpointed}}
                         .dump()
                  << std::endl;
      }
      return kExitCheckpointed;
    }
  }
  if (!trainer.replicas_agree()) {
    throw std::runtime_error("meta-parameters of the ranks differ at the end of training");
  }
  save_resumable("final", total_steps);
  if (!comm.is_root()) return 0;

  const double wall = progress.elapsed_seconds();
  const auto steps_run = total_steps - start_step;
  nlohmann::json summary = {
      {"command", "train"},
      {"method", o.meta.method},
      {"run_dir", o.out.run_dir},
      {"steps", total_steps},
      {"world_size", comm.size()},
      {"placement", nlohmann::json::array()},
      {"tasks_per_rank", o.meta.tasks_per_rank},
      {"episodes", book.episodes},
      {"resumed_from_step", start_step},
      {"wall_s", wall},
      {"steps_per_s", wall > 0 ? static_cast<double>(steps_run) / wall : 0.0},
      {"target_samples_used", book.target_seen.size()},
      {"target_labels_used", book.target_labelled.size()},
      {"inner_loop", inner_loops}};
  for (const auto& p : placement) summary["placement"].push_back(nlohmann::json::parse(p));
  for (const auto& [name, value] : last.losses) summary["final_" + name + "_loss"] = value;
  if (validating) {
    summary["val_shots"] = val_options.shots[0];
    summary["val_split"] = o.prep.val_split;
    summary["val_accuracy_initial"] = book.has_val_initial ? nlohmann::json(book.val_initial) : nlohmann::json();
    summary["best_val_accuracy"] = book.best_val;
    summary["best_step"] = book.best_step;
  }
  run->write_json("summary.json", summary);
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
