#include <ATen/Parallel.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <regex>
#include <set>

#include "croma/app/commands.h"
#include "croma/meta/experiment.h"
#include "croma/app/numerics_fingerprint.h"
#include "croma/app/resume.h"
#include "croma/config/options.h"
#include "croma/data/feature_shards.h"
#include "croma/distributed/collective_error.h"
#include "croma/distributed/communicator.h"
#include "croma/eval/few_shot.h"
#include "croma/model/checkpoint.h"
#include "croma/io/read_guard.h"
#include "croma/io/run_directory.h"
#include "croma/io/run_lock.h"
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
  // The numerics fingerprints of the ranks that trained up to this checkpoint
  // (app/numerics_fingerprint.h), sorted and distinct; empty in checkpoints from before.
  std::vector<std::string> numerics;

  std::string to_json_text() const {
    nlohmann::json j = {{"best_val", best_val},       {"best_step", best_step},
                        {"episodes", episodes},       {"target_seen", target_seen},
                        {"target_labelled", target_labelled}, {"numerics", numerics}};
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
    b.numerics = j.value("numerics", std::vector<std::string>{});
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

// Why the run directory's disk cannot hold what the run writes; empty when it can.
std::string missing_disk_space(const TrainOptions& o, const Communicator& comm, const ParamLayout& layout,
                               std::int64_t total_steps) {
  // Checkpoints the run keeps at once (initial, best, final, the newest step_N files, and one
  // being written), each the parameters plus ~16 KiB of state per task slot, and the metrics.
  const std::uintmax_t checkpoint_bytes = static_cast<std::uintmax_t>(layout.numel()) * 4 +
                                          16384u * static_cast<std::uintmax_t>(comm.size() * o.meta.tasks_per_rank) + 65536u;
  const int kept = 3 + kKeptStepCheckpoints + 1;
  const std::uintmax_t metrics_bytes = 512u * static_cast<std::uintmax_t>(total_steps / std::max<std::int64_t>(1, o.out.log_every) + 1);
  try {
    require_free_space(o.out.run_dir, kept * checkpoint_bytes + metrics_bytes,
                       std::to_string(kept) + " checkpoints of " + std::to_string(layout.numel()) +
                           " parameters and the metrics");
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// Why --resume cannot continue the run in --run-dir with this configuration; empty when it can.
std::string resume_config_error(const TrainOptions& o, const nlohmann::json& config, bool multi_phase) {
  const fs::path root = o.out.run_dir;
  nlohmann::json previous;
  try {
    previous = read_json_file(root / "config.json");
  } catch (const std::exception& e) {
    return std::string("--resume: ") + e.what();
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
  if (mismatch.empty()) return {};
  return "--resume: the run in '" + root.string() + "' has another configuration (" + mismatch +
         "); pass the run's options, or choose another --run-dir";
}

// The newest readable checkpoint to continue from, and the task slots per rank it gives this job.
void choose_resume_point(const TrainOptions& o, const Communicator& comm, const ParamLayout& layout,
                         std::int64_t total_steps, StartPlan& plan) {
  const fs::path root = o.out.run_dir;
  {
    ReadGuard guard("croma train", read_time_limit());
    plan.resume = latest_resumable_checkpoint(root, layout, &plan.skipped);
  }
  for (const auto& s : plan.skipped) {
    std::cerr << "croma train: warning: skipping " << s.reason << "; falling back to "
              << (plan.resume ? "the newest readable checkpoint" : "a fresh start") << "\n";
  }
  if (!plan.resume) return;  // nothing saved yet: start again from step 0
  const auto& st = *plan.resume->checkpoint.state;
  const auto layout_here = resume_layout(st, comm.size(), o.meta.tasks_per_rank);
  if (!layout_here.error.empty()) {
    plan.error = "--resume: cannot continue '" + plan.resume->path.string() + "': " + layout_here.error;
    return;
  }
  plan.tasks_per_rank = layout_here.tasks_per_rank;
  if (plan.resume->checkpoint.step > total_steps) {
    plan.error = "--resume: the run is at meta-step " + std::to_string(plan.resume->checkpoint.step) +
                 ", beyond the " + std::to_string(total_steps) + " meta-steps this configuration runs";
    return;
  }
  plan.already_complete = plan.resume->checkpoint.step == total_steps &&
                          plan.resume->path.filename() == "final.h5" &&
                          fs::exists(root / "summary.json");
}

StartPlan plan_start(const TrainOptions& o, const nlohmann::json& config, const Communicator& comm,
                     const ParamLayout& layout, std::int64_t total_steps, bool multi_phase) {
  StartPlan plan;
  plan.runtime_error = missing_disk_space(o, comm, layout, total_steps);
  if (!plan.runtime_error.empty()) return plan;
  if (!o.out.resume || !fs::exists(fs::path(o.out.run_dir) / "config.json")) return plan;
  plan.error = resume_config_error(o, config, multi_phase);
  if (plan.error.empty()) choose_resume_point(o, comm, layout, total_steps, plan);
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

std::string step_checkpoint(std::int64_t step) { return "step_" + std::to_string(step); }

// croma train from start to summary. run() calls the steps in order: prepare the experiment,
// decide how to start (fresh or resumed, on rank 0 for all), start, run the meta-steps (each
// logged, validated and checkpointed as the options say; a stop request checkpoints and
// ends), and summarise. The members are what those steps share.
class TrainingRun {
 public:
  explicit TrainingRun(TrainOptions options);
  int run();

 private:
  void gather_placement();
  void prepare();
  void check_episode_options() const;
  void decide_start();
  void adopt_task_slots(std::int64_t tasks_per_rank);
  int report_complete() const;
  void build_trainer();
  void start_fresh();
  void resume();
  torch::Tensor reopen_run_on_root(std::vector<std::string>& slots_per_rank);
  void save_initial();
  bool run_step(std::int64_t step);
  void enter_phase_of(std::int64_t step);
  void log_step(std::int64_t step);
  void validate_step(std::int64_t step);
  int stop(std::int64_t step) const;
  int finish();
  nlohmann::json summary() const;
  std::size_t class_pure_labels() const;
  double validate() const;
  void save(const std::string& name, std::int64_t step) const;
  void save_resumable(const std::string& name, std::int64_t step);

  std::unique_ptr<RunLock> lock_;  // rank 0's hold on the run directory; declared first, released last
  TrainOptions o_;
  const Communicator comm_;
  torch::Device device_ = torch::kCPU;
  std::vector<std::string> placement_;  // each rank's host and device (JSON), on rank 0
  std::vector<std::string> numerics_;   // the ranks' numerics fingerprints, distinct, on rank 0
  std::string numerics_change_;         // rank 0, on resume: what rounds differently now
  std::optional<Experiment> experiment_;
  EvalOptions val_options_;  // model selection: --val-tasks meta-val tasks, the first --eval-shots
  bool validating_ = false;
  std::vector<Phase> phases_;
  std::int64_t total_steps_ = 0;
  nlohmann::json config_;
  std::string config_text_;
  StartPlan plan_;  // rank 0's
  bool resuming_ = false, complete_ = false;
  std::optional<MetaTrainer> trainer_;
  std::vector<std::string> inner_loops_;  // the numerical path of each phase, for the summary
  Bookkeeping book_;
  std::int64_t start_step_ = 0;
  std::optional<RunDirectory> run_;  // rank 0's
  std::optional<FewShotEvaluator> evaluator_;
  std::optional<ProgressReporter> progress_;
  StepStats last_;
  std::size_t phase_index_ = 0;  // the phase of the current meta-step (1-based)
  std::int64_t phase_end_ = 0;   // and the step where it ends
};

TrainingRun::TrainingRun(TrainOptions options) : o_(std::move(options)), comm_(Communicator::world()) {
  at::set_num_threads(static_cast<int>(o_.dist.threads));
  device_ = resolve_device(o_.dist.device, comm_.local_rank());
  install_stop_handlers();
  gather_placement();
}

int TrainingRun::run() {
  prepare();
  decide_start();
  if (complete_) return report_complete();
  build_trainer();
  if (resuming_) {
    resume();
  } else {
    start_fresh();
  }
  if (comm_.is_root()) {
    std::cerr << "croma train: " << comm_.size() << " rank(s) x " << o_.meta.tasks_per_rank
              << " task(s) per meta-step on " << device_.str() << ", " << experiment_->model().numel()
              << " parameters, BLAS " << loaded_blas() << "\n";
  }
  // Validation reads the trainer's device copy of the target features: one copy per run.
  evaluator_.emplace(experiment_->model(), experiment_->sampler(), trainer_->context().target_features);
  if (comm_.is_root() && !resuming_) save_initial();
  progress_.emplace(total_steps_ - start_step_, std::cerr, comm_.is_root() && !o_.out.quiet);
  for (std::int64_t step = start_step_ + 1; step <= total_steps_; ++step) {
    if (!run_step(step)) return stop(step);
  }
  return finish();
}

// Where each rank runs and which device it chose: one stderr line per rank (multi-rank runs
// only) and, gathered on rank 0, summary.json's "placement". Mapping mistakes across nodes
// (cuda:<local rank> counted per job instead of per node) show here first. Also each rank's
// numerics fingerprint, which resumable checkpoints record and a resume compares.
void TrainingRun::gather_placement() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const auto mine = nlohmann::json{{"rank", comm_.rank()},
                                   {"host", std::string(host)},
                                   {"local_rank", comm_.local_rank()},
                                   {"local_size", comm_.local_size()},
                                   {"device", device_.str()}}
                        .dump();
  if (comm_.size() > 1) std::cerr << "croma train: placement " + mine + "\n" << std::flush;
  placement_ = comm_.gather_strings(mine);
  const auto fingerprints = comm_.gather_strings(numerics_fingerprint(device_, at::get_num_threads()));
  const std::set<std::string> distinct(fingerprints.begin(), fingerprints.end());
  numerics_.assign(distinct.begin(), distinct.end());
}

// The data, model and method phases, checked, and the configuration the run records.
void TrainingRun::prepare() {
  experiment_.emplace(o_, "croma train");
  o_.prep = experiment_->prep();  // "auto" resolved: config.json records what this run does
  val_options_ = o_.eval;
  val_options_.shots = {o_.eval.shots.front()};
  val_options_.tasks = o_.out.val_tasks;
  val_options_.repeats = 1;
  validating_ = o_.out.val_every > 0;
  check_episode_options();
  phases_ = plan_method(parse_method(o_.meta.method), o_, experiment_->sampler());
  for (const auto& phase : phases_) total_steps_ += phase.steps;

  config_ = o_;
  // Derived from the data when the run starts, and kept with it (so in every checkpoint's
  // config attribute too): croma eval applies these very statistics and checks the held-out
  // validation items against these ids.
  if (experiment_->standardization()) config_["standardization"] = *experiment_->standardization();
  if (o_.prep.val_split == "items") config_["val_items"] = experiment_->held_out_val_items();
  config_["runtime"] = runtime_facts(comm_, device_);
}

void TrainingRun::check_episode_options() const {
  const auto& sampler = experiment_->sampler();
  sampler.check_meta_training(o_.meta);
  // Validation's constraints matter only when validation runs.
  if (validating_) sampler.check_evaluation(Split::kVal, val_options_);
  sampler.check_evaluation(Split::kTest, o_.eval);
  if (o_.eval.ways > o_.meta.ways) {
    throw OptionError("--eval-ways " + std::to_string(o_.eval.ways) + " exceeds --ways " +
                      std::to_string(o_.meta.ways) + " (the classifier has --ways outputs)");
  }
}

// Rank 0 decides how to start and tells the others: refusals become the same OptionError on
// every rank, so the job fails with one message and no rank waits for another.
void TrainingRun::decide_start() {
  if (comm_.is_root()) {
    // One writer per run directory, taken before anything in it is read or written.
    try {
      lock_ = RunLock::acquire(o_.out.run_dir, "croma train",
                               {lease_from_environment(), static_cast<double>(o_.out.lock_wait)});
    } catch (const std::exception& e) {
      plan_.runtime_error = e.what();
    }
    if (lock_) plan_ = plan_start(o_, config_, comm_, experiment_->model().layout(), total_steps_, phases_.size() > 1);
  }
  std::string decision = comm_.is_root() ? nlohmann::json{{"error", plan_.error},
                                                          {"runtime_error", plan_.runtime_error},
                                                          {"resume", plan_.resume.has_value()},
                                                          {"tasks_per_rank", plan_.tasks_per_rank},
                                                          {"complete", plan_.already_complete}}
                                               .dump()
                                         : std::string();
  comm_.broadcast_string(decision);
  const auto decided = nlohmann::json::parse(decision);
  if (!decided.at("error").get<std::string>().empty()) {
    throw OptionError(decided.at("error").get<std::string>());
  }
  if (!decided.at("runtime_error").get<std::string>().empty()) {
    throw CollectiveError(decided.at("runtime_error").get<std::string>(), comm_.is_root());
  }
  resuming_ = decided.at("resume").get<bool>();
  config_text_ = config_.dump();
  const auto tasks_per_rank = decided.at("tasks_per_rank").get<std::int64_t>();
  if (resuming_ && tasks_per_rank != o_.meta.tasks_per_rank) adopt_task_slots(tasks_per_rank);
  complete_ = decided.at("complete").get<bool>();
}

// The same task slots on another number of ranks: this run's T follows from the checkpoint's
// R*T, and its config says so.
void TrainingRun::adopt_task_slots(std::int64_t tasks_per_rank) {
  const auto given = o_.meta.tasks_per_rank;
  o_.meta.tasks_per_rank = tasks_per_rank;
  config_["meta"]["tasks_per_rank"] = o_.meta.tasks_per_rank;
  config_text_ = config_.dump();
  if (comm_.is_root()) {
    std::cerr << "croma train: continuing the run's " << comm_.size() * o_.meta.tasks_per_rank << " task slots as "
              << comm_.size() << " rank(s) x " << o_.meta.tasks_per_rank << " (--tasks-per-rank " << given
              << " would change their number)\n";
  }
}

// --resume of a finished run: its summary again, nothing trained.
int TrainingRun::report_complete() const {
  if (!comm_.is_root()) return 0;
  const auto summary = read_json_file(fs::path(o_.out.run_dir) / "summary.json");
  std::cerr << "croma train: the run in " << o_.out.run_dir << " is complete (meta-step "
            << total_steps_ << "); nothing to do\n";
  std::cout << summary.dump() << std::endl;
  return 0;
}

void TrainingRun::build_trainer() {
  trainer_.emplace(experiment_->model(), experiment_->sampler(), o_.meta, o_.seed, comm_, device_);
  // --inner-loop: refuse "fused" for a phase the kernels cannot run before anything is written.
  trainer_->set_inner_loop(o_.meta.inner_loop);
  for (const auto& phase : phases_) {
    trainer_->set_tasks(phase.make_tasks(trainer_->context()), phase.epsilon);
    inner_loops_.push_back(trainer_->fused_inner_loop() ? "fused" : "autograd");
  }
}

void TrainingRun::start_fresh() {
  if (comm_.is_root()) {
    // --resume of a run that never saved a resumable checkpoint starts it again.
    run_.emplace(RunDirectory::create(o_.out.run_dir, o_.out.overwrite || o_.out.resume));
    run_->write_json("config.json", config_);
    book_.numerics = numerics_;
  }
  trainer_->set_meta_parameters(experiment_->model().initial_parameters(o_.seed));
}

// Every rank continues from rank 0's checkpoint: its parameters, its task slots' streams and
// its meta-step.
void TrainingRun::resume() {
  std::vector<std::string> per_rank;  // root: each rank's slot states, as a JSON array
  torch::Tensor parameters = torch::empty({experiment_->model().numel()}, torch::kFloat32);
  if (comm_.is_root()) parameters = reopen_run_on_root(per_rank);
  trainer_->set_meta_parameters(parameters);
  trainer_->set_rng_states(
      nlohmann::json::parse(comm_.scatter_strings(per_rank)).get<std::vector<std::string>>());
  std::string step_text = std::to_string(start_step_);
  comm_.broadcast_string(step_text);
  start_step_ = std::stoll(step_text);
  trainer_->set_steps_done(start_step_);
}

// Rank 0: the checkpoint's slot streams dealt to this job's ranks, its bookkeeping restored,
// the run directory reopened at its step; returns its parameters.
torch::Tensor TrainingRun::reopen_run_on_root(std::vector<std::string>& slots_per_rank) {
  const auto& ck = plan_.resume->checkpoint;
  // Slot s = r*T + t, in the checkpoint's slot order, goes to rank s / T of this run's
  // layout (which may differ from the one that wrote it).
  const auto T = static_cast<std::size_t>(o_.meta.tasks_per_rank);
  for (std::int64_t r = 0; r < comm_.size(); ++r) {
    const auto first = ck.state->rng_states.begin() + static_cast<std::ptrdiff_t>(r * T);
    slots_per_rank.push_back(nlohmann::json(std::vector<std::string>(first, first + T)).dump());
  }
  start_step_ = ck.step;
  book_ = Bookkeeping::from_json_text(ck.state->bookkeeping_json);
  trainer_->mark_target_usage(book_.target_seen, book_.target_labelled);
  run_.emplace(RunDirectory::reopen_for_training(o_.out.run_dir, start_step_));
  run_->write_json("config.json", config_);
  std::cerr << "croma train: resuming " << o_.out.run_dir << " from " << plan_.resume->path.string()
            << " (meta-step " << start_step_ << " of " << total_steps_ << ")\n";
  // Another kind of machine (or croma, BLAS, threads) continues correctly but rounds
  // differently: say so once, and record what this run now trains on.
  numerics_change_ = describe_numerics_change(book_.numerics, numerics_);
  if (!numerics_change_.empty()) {
    std::cerr << "croma train: warning: resuming with other numerics than the checkpoint was written with ("
              << numerics_change_ << "); the run continues, but not bit for bit with one never interrupted\n";
  }
  book_.numerics = numerics_;
  return ck.parameters;
}

// Rank 0 of a fresh run: the untrained model, and (when validating) its score as the first best.
void TrainingRun::save_initial() {
  save("initial", 0);
  if (validating_) {
    book_.val_initial = book_.best_val = validate();
    book_.has_val_initial = true;
    save("best", 0);
  }
}

// One meta-step and what follows it; false when a stop was requested (the step is then
// checkpointed and training ends).
bool TrainingRun::run_step(std::int64_t step) {
  if (step > phase_end_) enter_phase_of(step);
  last_ = trainer_->step(stop_requested());
  book_.episodes += last_.episodes;
  if (o_.dist.check_every > 0 && step % o_.dist.check_every == 0 && !trainer_->replicas_agree()) {
    throw std::runtime_error("meta-parameters of the ranks drifted apart by meta-step " +
                             std::to_string(step) + " (checksums differ)");
  }
  if (comm_.is_root()) {
    log_step(step);
    validate_step(step);
  }
  // Every rank knows both conditions (the stop request came back from the allreduce), so
  // the collective save below is entered by all ranks at the same step.
  const bool stopping = last_.stop_requested && step < total_steps_;
  if ((o_.out.checkpoint_every > 0 && step % o_.out.checkpoint_every == 0) || stopping) {
    save_resumable(step_checkpoint(step), step);
    if (comm_.is_root()) prune_step_checkpoints(run_->root());
  }
  return !stopping;
}

// Moves to the phase that holds meta-step `step` (1-based): its tasks and step size.
void TrainingRun::enter_phase_of(std::int64_t step) {
  while (step > phase_end_) phase_end_ += phases_[phase_index_++].steps;
  const auto& phase = phases_[phase_index_ - 1];
  trainer_->set_tasks(phase.make_tasks(trainer_->context()), phase.epsilon);
  if (comm_.is_root() && !o_.out.quiet && phases_.size() > 1) {
    std::cerr << "phase " << phase.name << ": meta-steps " << phase_end_ - phase.steps + 1 << "-"
              << phase_end_ << ", epsilon " << phase.epsilon << "\n";
  }
}

void TrainingRun::log_step(std::int64_t step) {
  if (step % o_.out.log_every != 0 && step != total_steps_) return;
  nlohmann::json line = {{"step", step}, {"episodes", book_.episodes}, {"wall_s", progress_->elapsed_seconds()}};
  for (const auto& [name, value] : last_.losses) line[name + "_loss"] = value;
  run_->append_metrics(line);
  progress_->report(step - start_step_, last_.losses);
}

void TrainingRun::validate_step(std::int64_t step) {
  if (!validating_ || (step % o_.out.val_every != 0 && step != total_steps_)) return;
  const double val = validate();
  run_->append_metrics({{"step", step}, {"val_accuracy", val}, {"val_shots", val_options_.shots[0]}});
  if (val > book_.best_val) {
    book_.best_val = val;
    book_.best_step = step;
    save("best", step);
  }
}

// After a stop request's checkpoint: how to continue, and the exit code job scripts requeue on.
int TrainingRun::stop(std::int64_t step) const {
  if (comm_.is_root()) {
    std::cerr << "croma train: stop requested (SIGTERM/SIGUSR1); checkpointed meta-step " << step
              << " to " << run_->checkpoint(step_checkpoint(step)).string()
              << "; continue with --resume (exit code " << kExitCheckpointed << ")\n";
    std::cout << nlohmann::json{{"command", "train"},
                                {"run_dir", o_.out.run_dir},
                                {"stopped_at_step", step},
                                {"steps", total_steps_},
                                {"exit_code", kExitCheckpointed}}
                     .dump()
              << std::endl;
  }
  return kExitCheckpointed;
}

int TrainingRun::finish() {
  if (!trainer_->replicas_agree()) {
    throw std::runtime_error("meta-parameters of the ranks differ at the end of training");
  }
  save_resumable("final", total_steps_);
  if (!comm_.is_root()) return 0;
  const auto s = summary();
  run_->write_json("summary.json", s);
  std::cout << s.dump() << std::endl;
  return 0;
}

nlohmann::json TrainingRun::summary() const {
  const double wall = progress_->elapsed_seconds();
  const auto steps_run = total_steps_ - start_step_;
  nlohmann::json summary = {
      {"command", "train"},
      {"method", o_.meta.method},
      {"run_dir", o_.out.run_dir},
      {"steps", total_steps_},
      {"world_size", comm_.size()},
      {"placement", nlohmann::json::array()},
      {"tasks_per_rank", o_.meta.tasks_per_rank},
      {"episodes", book_.episodes},
      {"resumed_from_step", start_step_},
      {"wall_s", wall},
      {"steps_per_s", wall > 0 ? static_cast<double>(steps_run) / wall : 0.0},
      {"target_samples_used", book_.target_seen.size()},
      {"target_labels_used", book_.target_labelled.size()},
      {"target_labels_class_pure", class_pure_labels()},
      {"inner_loop", inner_loops_},
      {"numerics", numerics_},
      {"numerics_changed_on_resume", !numerics_change_.empty()}};
  for (const auto& p : placement_) summary["placement"].push_back(nlohmann::json::parse(p));
  for (const auto& [name, value] : last_.losses) summary["final_" + name + "_loss"] = value;
  if (validating_) {
    summary["val_shots"] = val_options_.shots[0];
    summary["val_split"] = o_.prep.val_split;
    summary["val_accuracy_initial"] = book_.has_val_initial ? nlohmann::json(book_.val_initial) : nlohmann::json();
    summary["best_val_accuracy"] = book_.best_val;
    summary["best_step"] = book_.best_step;
  }
  return summary;
}

// Table 2's second label count: the target items whose class training could read. The
// labelled ones, and, where alignment reads weak clusters, the items it saw whose cluster lies
// inside one class (that cluster id is the class label). The paper counts the latter as 0.
std::size_t TrainingRun::class_pure_labels() const {
  std::vector<std::int64_t> read = book_.target_labelled;
  if (aligns(parse_method(o_.meta.method)) && o_.meta.pairs == PairKind::kWeak) {
    const auto revealing = class_revealing_target_items(experiment_->sampler());
    std::vector<std::int64_t> seen = book_.target_seen, revealed;
    std::sort(seen.begin(), seen.end());
    std::set_intersection(seen.begin(), seen.end(), revealing.begin(), revealing.end(), std::back_inserter(revealed));
    read.insert(read.end(), revealed.begin(), revealed.end());
  }
  std::sort(read.begin(), read.end());
  return static_cast<std::size_t>(std::unique(read.begin(), read.end()) - read.begin());
}

// Model selection's score: --val-tasks meta-val tasks at the first --eval-shots value, one seed,
// clean labels.
double TrainingRun::validate() const {
  return evaluator_
      ->evaluate_shots(trainer_->meta_parameters_on_device(), Split::kVal, val_options_, val_options_.shots[0],
                       o_.seed)
      .mean;
}

void TrainingRun::save(const std::string& name, std::int64_t step) const {
  write_checkpoint(run_->checkpoint(name).string(), experiment_->model().layout(),
                   {trainer_->meta_parameters(), step, config_text_, std::nullopt});
}

// Collective: rank 0 gathers every rank's stream states and writes one checkpoint that the
// run can continue from.
void TrainingRun::save_resumable(const std::string& name, std::int64_t step) {
  std::tie(book_.target_seen, book_.target_labelled) = trainer_->target_usage_items();
  const auto gathered = comm_.gather_strings(nlohmann::json(trainer_->rng_states()).dump());
  if (!comm_.is_root()) return;
  TrainingState state;
  state.world_size = comm_.size();
  state.tasks_per_rank = o_.meta.tasks_per_rank;
  for (const auto& text : gathered) {
    for (auto& s : nlohmann::json::parse(text).get<std::vector<std::string>>()) {
      state.rng_states.push_back(std::move(s));
    }
  }
  state.bookkeeping_json = book_.to_json_text();
  write_checkpoint(run_->checkpoint(name).string(), experiment_->model().layout(),
                   {trainer_->meta_parameters(), step, config_text_, std::move(state)});
}

}  // namespace

int run_train_command(int argc, const char* const argv[]) {
  TrainOptions options;
  if (!parse_train_options(argc, argv, options)) return 0;
  if (options.print_hparams) return print_hyperparameters(options);
  options.data = resolve_shard_paths(options.data);
  return TrainingRun(std::move(options)).run();
}

}  // namespace croma
