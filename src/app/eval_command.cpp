#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "croma/app/commands.h"
#include "croma/meta/experiment.h"
#include "croma/config/options.h"
#include "croma/data/feature_shards.h"
#include "croma/distributed/communicator.h"
#include "croma/eval/confidence.h"
#include "croma/eval/few_shot.h"
#include "croma/eval/frozen_heads.h"
#include "croma/eval/retrieval.h"
#include "croma/model/checkpoint.h"
#include "croma/io/read_guard.h"
#include "croma/io/run_directory.h"
#include "croma/io/run_lock.h"
#include "croma/util/runtime.h"
#include "croma/data/standardize.h"

#include <optional>

namespace croma {
namespace {

nlohmann::json summary_json(const FewShotSummary& s) {
  nlohmann::json seeds = nlohmann::json::array();
  for (const auto& r : s.per_seed) {
    seeds.push_back({{"seed", r.seed},
                     {"accuracy_mean", r.mean},
                     {"accuracy_std", r.std},
                     {"task_accuracy", r.task_accuracy}});
  }
  return {{"accuracy_mean", s.mean}, {"accuracy_std", s.std}, {"seeds", seeds}};
}

nlohmann::json metrics_json(const RetrievalMetrics& m) {
  return {{"recall_at_1", m.recall_at_1},
          {"recall_at_5", m.recall_at_5},
          {"recall_at_10", m.recall_at_10},
          {"median_rank", m.median_rank},
          {"mean_cosine_loss", m.mean_cosine_loss}};
}

nlohmann::json retrieval_json(const RetrievalResult& r) {
  nlohmann::json st = metrics_json(r.source_to_target), ts = metrics_json(r.target_to_source);
  nlohmann::json st_seeds = nlohmann::json::array(), ts_seeds = nlohmann::json::array();
  std::vector<double> r1_st, r1_ts;
  for (const auto& m : r.per_seed_source_to_target) {
    st_seeds.push_back(metrics_json(m));
    r1_st.push_back(m.recall_at_1);
  }
  for (const auto& m : r.per_seed_target_to_source) {
    ts_seeds.push_back(metrics_json(m));
    r1_ts.push_back(m.recall_at_1);
  }
  st["recall_at_1_std"] = mean_and_std(r1_st).second;
  ts["recall_at_1_std"] = mean_and_std(r1_ts).second;
  st["seeds"] = st_seeds;
  ts["seeds"] = ts_seeds;
  return {{"shots", r.shots}, {"source_to_target", st}, {"target_to_source", ts}};
}

// Where a run keeps the evaluation of each split.
std::string eval_output_name(Split split) { return split == Split::kVal ? "eval-val.json" : "eval.json"; }

// A comma-separated list of distinct names from `allowed` (--head, --head-features).
std::vector<std::string> parse_name_list(const std::string& option, const std::string& text,
                                         const std::vector<std::string>& allowed) {
  std::string allowed_text;
  for (const auto& a : allowed) allowed_text += (allowed_text.empty() ? "" : ", ") + a;
  std::vector<std::string> names;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (std::find(allowed.begin(), allowed.end(), item) == allowed.end()) {
      throw OptionError("invalid value for --" + option + ": '" + text + "' (a list of " + allowed_text + ")");
    }
    if (std::find(names.begin(), names.end(), item) != names.end()) {
      throw OptionError("invalid value for --" + option + ": '" + text + "' ('" + item + "' twice)");
    }
    names.push_back(item);
  }
  if (names.empty()) throw OptionError("invalid value for --" + option + ": empty list");
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// croma eval from command line to eval.json. run() calls the steps in order: read the run
// and the command line (its evaluation settings are the defaults), take the run directory,
// rebuild the experiment as trained (standardisation, data, checkpoint), evaluate each cell
// (fine-tuning, then the frozen heads, then retrieval) and write the outputs.
class EvaluationRun {
 public:
  EvaluationRun(int argc, const char* const argv[]) : argc_(argc), argv_(argv) {}
  int run();

 private:
  bool read_options();
  void load_standardization();
  void build_experiment();
  void evaluate_fine_tuning();
  void evaluate_frozen_heads();
  void evaluate_retrieval();
  nlohmann::json summary() const;
  void write_outputs(const nlohmann::json& summary) const;
  void record_episodes(double noise, std::int64_t k, const std::string& what, const FewShotSummary& s);
  void export_episodes();

  int argc_;
  const char* const* argv_;
  EvalCommandOptions e_;
  TrainOptions o_;  // the run's configuration, --data applied
  std::optional<RunDirectory> run_;
  nlohmann::json run_config_;
  std::vector<std::string> heads_;
  std::vector<std::string> head_features_;
  std::unique_ptr<RunLock> lock_;
  torch::Device device_ = torch::kCPU;
  Split split_ = Split::kTest;
  std::string path_;  // the checkpoint read
  std::optional<FeatureStandardization> stored_;
  std::unique_ptr<Experiment> exp_;
  Checkpoint checkpoint_;
  torch::Tensor initial_;
  std::uint64_t seed_ = 0;
  std::optional<FewShotEvaluator> evaluator_;
  nlohmann::json results_ = nlohmann::json::array(), frozen_ = nlohmann::json::array(),
                 retrieval_ = nlohmann::json::array();
  nlohmann::json exported_ = nlohmann::json::object();  // --export-episodes: accuracies by cell, features
  double fine_tune_seconds_ = 0;
};

int EvaluationRun::run() {
  if (!read_options()) return 0;
  const auto comm = Communicator::world();
  if (!comm.is_root()) return 0;  // evaluation is cheap; one rank does it
  // No other writer (a training still running, another evaluation) while this one reads the
  // checkpoint and writes its output.
  lock_ = RunLock::acquire(e_.run_dir, "croma eval", {lease_from_environment(), static_cast<double>(e_.lock_wait)});
  at::set_num_threads(static_cast<int>(e_.threads));
  device_ = resolve_device(e_.device, comm.local_rank());
  split_ = e_.split == "val" ? Split::kVal : Split::kTest;
  const bool named = e_.checkpoint == "final" || e_.checkpoint == "best" || e_.checkpoint == "initial";
  path_ = named ? run_->checkpoint(e_.checkpoint).string() : e_.checkpoint;
  load_standardization();
  build_experiment();
  evaluate_fine_tuning();
  evaluate_frozen_heads();
  evaluate_retrieval();
  export_episodes();
  write_outputs(summary());
  return 0;
}

// The command line over the run's own evaluation settings; false after --help.
bool EvaluationRun::read_options() {
  if (!parse_eval_options(argc_, argv_, e_)) return false;
  heads_ = parse_name_list("head", e_.heads, {"finetune", "prototype", "logistic"});
  head_features_ = parse_name_list("head-features", e_.head_features, {"trained", "initial", "raw"});
  run_.emplace(RunDirectory::open(e_.run_dir));
  run_config_ = run_->read_json("config.json");
  from_json(run_config_, o_);
  EvalCommandOptions with_run_defaults;
  with_run_defaults.eval = o_.eval;
  parse_eval_options(argc_, argv_, with_run_defaults);
  e_ = with_run_defaults;
  e_.data = resolve_shard_paths(e_.data);
  if (!e_.data.empty()) {
    if (o_.data.empty()) {
      throw OptionError("--data: the run in '" + e_.run_dir +
                        "' was trained on the built-in concept world, not on feature shards");
    }
    // The same dataset, elsewhere: its items and class split come from the shards, and a
    // checkpoint of another shape is refused when it is read.
    o_.data = e_.data;
  }
  return true;
}

// A standardising run's features are transformed with the statistics stored when it
// started, never recomputed: the checkpoint's own record (its parameters were trained under
// it), else config.json's.
void EvaluationRun::load_standardization() {
  if (o_.prep.standardize != "on") return;
  const auto checkpoint_config = [&] {
    ReadGuard guard("croma eval", read_time_limit());
    return nlohmann::json::parse(read_checkpoint_config(path_), nullptr, false);
  }();
  const bool own = checkpoint_config.is_object() && checkpoint_config.contains("standardization");
  const auto& record = own ? checkpoint_config : run_config_;
  if (!record.contains("standardization")) {
    throw std::runtime_error("the run in '" + e_.run_dir + "' standardises its features but neither '" + path_ +
                             "' nor its config.json holds the statistics");
  }
  stored_.emplace();
  try {
    from_json(record.at("standardization"), *stored_);
  } catch (const StandardizationError& err) {
    throw std::runtime_error("'" + (own ? path_ : run_->file("config.json").string()) + "': " + err.what());
  }
}

// The data and model as trained, the evaluation checked against them, the checkpoint read.
void EvaluationRun::build_experiment() {
  try {
    exp_ = std::make_unique<Experiment>(o_, "croma eval", stored_ ? &*stored_ : nullptr);
  } catch (const StandardizationError& err) {
    // Statistics that do not fit the data: name the checkpoint they came from.
    throw std::runtime_error("checkpoint '" + path_ + "': " + err.what());
  }
  if (run_config_.contains("val_items") &&
      run_config_.at("val_items").get<std::vector<std::int64_t>>() != exp_->held_out_val_items()) {
    throw std::runtime_error("the held-out validation items drawn now differ from those recorded in '" +
                             run_->file("config.json").string() + "' (have the data changed since training?)");
  }
  exp_->sampler().check_evaluation(split_, e_.eval);
  if (e_.eval.retrieval) exp_->sampler().check_retrieval(split_, e_.eval);
  checkpoint_ = [&] {
    ReadGuard guard("croma eval", read_time_limit());
    return read_checkpoint(path_, exp_->model().layout());
  }();
  initial_ = exp_->model().initial_parameters(o_.seed);
  seed_ = e_.eval_seed != 0 ? e_.eval_seed : o_.seed;
  // One device copy of the target features for every evaluation.
  evaluator_.emplace(exp_->model(), exp_->sampler(), exp_->sampler().data().target.batch().to(device_));
  std::cerr << "croma eval: " << o_.meta.method << ", " << e_.eval.ways << "-way, " << e_.eval.repeats
            << " seed(s) x " << e_.eval.tasks << " tasks on " << to_string(split_)
            << (split_ == Split::kVal && exp_->sampler().split().val_items ? " (held-out items of meta-train)" : "")
            << " classes, checkpoint " << path_ << " (step " << checkpoint_.step << ")\n";
}

// The paper's protocol: fine-tune from the trained parameters and, on the very same
// episodes, from the untrained start; the gain is paired episode by episode.
void EvaluationRun::evaluate_fine_tuning() {
  if (std::find(heads_.begin(), heads_.end(), "finetune") == heads_.end()) return;
  const auto start = std::chrono::steady_clock::now();
  for (double noise : e_.eval.label_noise) {
    for (auto k : e_.eval.shots) {
      const auto trained = evaluator_->evaluate_repeated(checkpoint_.parameters, split_, e_.eval, k, seed_, noise);
      const auto trained_episodes = trained.episode_accuracy();
      const auto trained_ci = t_interval(trained_episodes);
      record_episodes(noise, k, "finetune/trained", trained);
      nlohmann::json result = {{"shots", k},
                               {"label_noise", noise},
                               {"episodes", trained_ci.n},
                               {"accuracy_mean", trained.mean},
                               {"accuracy_std", trained.std},
                               {"accuracy_ci95", trained_ci.half_width},
                               {"trained", summary_json(trained)}};
      char line[240];
      if (e_.skip_untrained) {
        std::snprintf(line, sizeof line, "  %2lld-shot, label noise %.2f: %.1f%% +- %.1f, 95%% CI over %lld episodes\n",
                      static_cast<long long>(k), noise, 100 * trained_ci.mean, 100 * trained_ci.half_width,
                      static_cast<long long>(trained_ci.n));
      } else {
        const auto untrained = evaluator_->evaluate_repeated(initial_, split_, e_.eval, k, seed_, noise);
        record_episodes(noise, k, "finetune/initial", untrained);
        const auto untrained_episodes = untrained.episode_accuracy();
        const auto untrained_ci = t_interval(untrained_episodes);
        const auto gain_ci = t_interval(paired_differences(trained_episodes, untrained_episodes));
        std::snprintf(line, sizeof line,
                      "  %2lld-shot, label noise %.2f: %.1f%% +- %.1f (untrained start %.1f%% +- %.1f; gain %+.1f +- %.1f), "
                      "95%% CI over %lld episodes\n",
                      static_cast<long long>(k), noise, 100 * trained_ci.mean, 100 * trained_ci.half_width,
                      100 * untrained_ci.mean, 100 * untrained_ci.half_width, 100 * gain_ci.mean,
                      100 * gain_ci.half_width, static_cast<long long>(trained_ci.n));
        result["initial_accuracy_mean"] = untrained.mean;
        result["initial_accuracy_std"] = untrained.std;
        result["initial_accuracy_ci95"] = untrained_ci.half_width;
        result["gain_mean"] = gain_ci.mean;
        result["gain_ci95"] = gain_ci.half_width;
        result["initial"] = summary_json(untrained);
      }
      std::cerr << line;
      results_.push_back(result);
    }
  }
  fine_tune_seconds_ = seconds_since(start);
}

// The sanity rows (eval/frozen_heads.h): each frozen head on the trained embedding, the
// untrained start's and, for vector features, the standardised target features themselves
// (no network), on the fine-tuning's episodes.
void EvaluationRun::evaluate_frozen_heads() {
  std::vector<std::pair<std::string, torch::Tensor>> representations;
  for (const auto& h : heads_) {
    if (h == "finetune") continue;
    if (representations.empty()) {
      if (contains(head_features_, "trained")) {
        representations.emplace_back("trained", evaluator_->embed_all(checkpoint_.parameters));
      }
      if (contains(head_features_, "initial") && !e_.skip_untrained) {
        representations.emplace_back("initial", evaluator_->embed_all(initial_));
      }
      const auto& raw = exp_->sampler().data().target.batch();
      if (contains(head_features_, "raw") && raw.values().dim() == 2 && !raw.has_lengths()) {
        representations.emplace_back("raw", raw.values().cpu());
      }
    }
    const auto head = parse_frozen_head(h);
    for (double noise : e_.eval.label_noise) {
      for (auto k : e_.eval.shots) {
        nlohmann::json cell = {{"head", h}, {"shots", k}, {"label_noise", noise}};
        std::vector<double> trained_episodes;
        std::ostringstream line;
        line << "  " << h << ", " << k << "-shot, label noise " << noise << ":";
        for (const auto& [name, features] : representations) {
          const auto start = std::chrono::steady_clock::now();
          const auto s = evaluator_->evaluate_frozen_repeated(head, features, split_, e_.eval, k, seed_, noise);
          const auto episodes = s.episode_accuracy();
          record_episodes(noise, k, h + "/" + name, s);
          const auto ci = t_interval(episodes);
          auto j = summary_json(s);
          j["accuracy_ci95"] = ci.half_width;
          j["seconds"] = seconds_since(start);
          if (name == "trained") trained_episodes = episodes;
          if (name != "trained" && !trained_episodes.empty()) {
            const auto gain = t_interval(paired_differences(trained_episodes, episodes));
            j["trained_minus_this_mean"] = gain.mean;
            j["trained_minus_this_ci95"] = gain.half_width;
          }
          char part[96];
          std::snprintf(part, sizeof part, " %s %.1f%% +- %.1f", name.c_str(), 100 * ci.mean, 100 * ci.half_width);
          line << part;
          cell[name] = j;
          if (!e_.export_episodes.empty() && !exported_["features"].contains(name)) {
            const auto rows = features.to(torch::kFloat64).contiguous();
            exported_["features"][name] = std::vector<std::vector<double>>();
            for (std::int64_t i = 0; i < rows.size(0); ++i) {
              exported_["features"][name].push_back(
                  std::vector<double>(rows[i].data_ptr<double>(), rows[i].data_ptr<double>() + rows.size(1)));
            }
          }
        }
        std::cerr << line.str() << "\n";
        frozen_.push_back(cell);
      }
    }
  }
}

void EvaluationRun::evaluate_retrieval() {
  if (!e_.eval.retrieval) return;
  RetrievalEvaluator retriever(exp_->model(), exp_->sampler(), o_.meta,
                               exp_->sampler().data().source.batch().to(device_),
                               exp_->sampler().data().target.batch().to(device_));
  for (auto k : e_.eval.shots) {
    const auto r = retriever.evaluate(checkpoint_.parameters, split_, e_.eval, k, seed_);
    char line[200];
    std::snprintf(line, sizeof line,
                  "  %2lld-shot retrieval, source->target: R@1 %.1f%% R@5 %.1f%% R@10 %.1f%% median rank %.1f\n",
                  static_cast<long long>(k), 100 * r.source_to_target.recall_at_1,
                  100 * r.source_to_target.recall_at_5, 100 * r.source_to_target.recall_at_10,
                  r.source_to_target.median_rank);
    std::cerr << line;
    retrieval_.push_back(retrieval_json(r));
  }
}

// --export-episodes: each cell's per-episode accuracies, by "head/parameters".
void EvaluationRun::record_episodes(double noise, std::int64_t k, const std::string& what, const FewShotSummary& s) {
  if (e_.export_episodes.empty()) return;
  const auto key = std::to_string(k) + "-shot, label noise " + std::to_string(noise);
  exported_["cells"][key]["accuracy"][what] = s.episode_accuracy();
  exported_["cells"][key]["shots"] = k;
  exported_["cells"][key]["label_noise"] = noise;
}

// Every cell's episodes (items and labels, seed after seed, in the order of the accuracies),
// the accuracies and the frozen features, in one JSON file written atomically.
void EvaluationRun::export_episodes() {
  if (e_.export_episodes.empty()) return;
  for (auto& [key, cell] : exported_["cells"].items()) {
    nlohmann::json tasks = nlohmann::json::array();
    for (std::int64_t r = 0; r < e_.eval.repeats; ++r) {
      for (const auto& t : evaluator_->draw_tasks(split_, e_.eval, cell.at("shots").get<std::int64_t>(),
                                                   repeat_seed(seed_, r), cell.at("label_noise").get<double>())) {
        tasks.push_back({{"support_items", t.support_items},
                         {"support_labels", t.support_labels},
                         {"query_items", t.query_items},
                         {"query_labels", t.query_labels}});
      }
    }
    cell["tasks"] = tasks;
  }
  exported_["ways"] = e_.eval.ways;
  exported_["run_dir"] = e_.run_dir;
  exported_["checkpoint"] = path_;
  write_text_atomically(e_.export_episodes, exported_.dump());
}

nlohmann::json EvaluationRun::summary() const {
  nlohmann::json summary = {{"command", "eval"},
                            {"method", o_.meta.method},
                            {"run_dir", e_.run_dir},
                            {"checkpoint", path_},
                            {"checkpoint_step", checkpoint_.step},
                            {"split", to_string(split_)},
                            {"val_split", o_.prep.val_split},
                            {"class_split_seed", o_.prep.class_split_seed},
                            {"classes", exp_->sampler().split().classes(split_)},
                            {"standardize", o_.prep.standardize},
                            {"ways", e_.eval.ways},
                            {"tasks", e_.eval.tasks},
                            {"episodes", e_.eval.tasks * e_.eval.repeats},
                            {"interval", "95 % Student-t interval over episodes (accuracy_ci95, half-width)"},
                            {"repeats", e_.eval.repeats},
                            {"queries", e_.eval.queries},
                            {"eval_seed", seed_},
                            {"head_only", e_.eval.head_only},
                            {"untrained_start", !e_.skip_untrained},
                            {"results", results_}};
  if (e_.eval.retrieval) summary["retrieval"] = retrieval_;
  if (!frozen_.empty()) {
    summary["frozen_heads"] = frozen_;
    summary["frozen_heads_rule"] =
        "prototype: nearest support-class mean, squared Euclidean; logistic: multinomial, C = 1 (L2 on the "
        "weights), fitted on the support set; trained / initial: the frozen embeddings of the checkpoint and the "
        "untrained start; raw: the standardised target features";
    summary["fine_tune_seconds"] = fine_tune_seconds_;
  }
  // What meta-training read of the target modality (Table 2's last column).
  if (std::filesystem::exists(run_->file("summary.json"))) {
    const auto train_summary = run_->read_json("summary.json");
    for (const char* key : {"target_samples_used", "target_labels_used", "target_labels_class_pure"}) {
      if (train_summary.contains(key)) summary[key] = train_summary[key];
    }
  }
  return summary;
}

// Meta-val results never overwrite the meta-test ones: model selection reads eval-val.json
// only, tables read eval.json only. stdout carries the aggregate only.
void EvaluationRun::write_outputs(const nlohmann::json& summary) const {
  auto written = summary;
  const auto output = eval_output_name(split_);
  written["output"] = output;
  run_->write_json(output, written);
  nlohmann::json brief = written;
  for (auto& r : brief["results"]) {
    r.erase("trained");
    if (r.contains("initial")) r.erase("initial");
  }
  if (brief.contains("frozen_heads")) {
    for (auto& cell : brief["frozen_heads"]) {
      for (const char* name : {"trained", "initial", "raw"}) {
        if (cell.contains(name)) cell[name].erase("seeds");
      }
    }
  }
  if (brief.contains("retrieval")) {
    for (auto& r : brief["retrieval"]) {
      r["source_to_target"].erase("seeds");
      r["target_to_source"].erase("seeds");
    }
  }
  std::cout << brief.dump() << std::endl;
}

}  // namespace

int run_eval_command(int argc, const char* const argv[]) { return EvaluationRun(argc, argv).run(); }

}  // namespace croma
