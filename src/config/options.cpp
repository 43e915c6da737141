// The commands' options as the rest of croma sees them: parsing, validation and config.json,
// each one call into the option tables (option_registry.h) plus the few rules that relate
// several options, listed here by name.
#include "croma/config/options.h"

#include <string>

#include "croma/config/method_defaults.h"
#include "croma/config/option_registry.h"

namespace croma {
namespace {

// ---- rules that relate options (each option's own range is in its table entry) -----------

void require_classes_left_for_meta_test(const WorldOptions& w) {
  if (w.train_fraction + w.val_fraction >= 1.0) {
    throw OptionError("invalid values for --train-fraction and --val-fraction: they sum to " +
                      std::to_string(w.train_fraction + w.val_fraction) +
                      " (must leave classes for meta-test, sum < 1)");
  }
}

void require_frames_range(const WorldOptions& w) {
  if (w.max_frames < w.min_frames) {
    throw OptionError("invalid value for --max-frames: " + std::to_string(w.max_frames) + " (must be >= " +
                      std::to_string(w.min_frames) + ")");
  }
}

void require_resume_or_overwrite(const OutputOptions& out) {
  if (out.resume && out.overwrite) {
    throw OptionError("--resume and --overwrite exclude each other (continue the run, or replace it)");
  }
}

// Noisy target labels reach a method at meta-test too, unless told otherwise.
void default_evaluation_noise_to_training_noise(const std::set<std::string>& given, TrainOptions& o) {
  if (!given.count("eval-label-noise")) o.eval.label_noise = {o.meta.label_noise};
}

}  // namespace

std::string to_string(PairKind kind) { return enum_names<PairKind>().at(static_cast<std::size_t>(kind)); }
std::string to_string(AlignLossKind kind) { return enum_names<AlignLossKind>().at(static_cast<std::size_t>(kind)); }
std::string to_string(EncoderKind kind) { return enum_names<EncoderKind>().at(static_cast<std::size_t>(kind)); }
std::string to_string(SequencePool pool) { return enum_names<SequencePool>().at(static_cast<std::size_t>(pool)); }

bool parse_train_options(int argc, const char* const argv[], TrainOptions& o, const std::string& usage) {
  // A baseline's own defaults replace the struct defaults only: a caller that starts from
  // settings of its own (croma bench's fixed problem, the same for every method) keeps them.
  const bool from_struct_defaults = nlohmann::json(o) == nlohmann::json(TrainOptions{});
  const auto given = train_option_table().parse(usage, argc, argv, o);
  if (!given) return false;
  if (from_struct_defaults) apply_method_defaults(*given, o);
  default_evaluation_noise_to_training_noise(*given, o);
  validate(o);
  return true;
}

bool parse_eval_options(int argc, const char* const argv[], EvalCommandOptions& o) {
  const auto& table = eval_option_table();
  const auto given = table.parse("usage: croma eval --run-dir DIR [options]", argc, argv, o);
  if (!given) return false;
  for (const auto& name : *given) {
    if (table.entry(name).group == "Few-shot evaluation") o.eval_overridden = true;
  }
  table.check(o);
  return true;
}

void validate(const TrainOptions& o) {
  train_option_table().check(o);
  require_classes_left_for_meta_test(o.world);
  require_frames_range(o.world);
  require_resume_or_overwrite(o.out);
}

// The checks of one group: its struct placed in otherwise default options.
void validate(const EvalOptions& e) {
  TrainOptions o;
  o.eval = e;
  train_option_table().check(o, "Few-shot evaluation");
}

void validate(const PrepOptions& p) {
  TrainOptions o;
  o.prep = p;
  train_option_table().check(o, "Data preparation");
}

void to_json(nlohmann::json& j, const TrainOptions& o) {
  j = nlohmann::json::object();
  train_option_table().to_json(o, j);
  // Which data the run read. With shards the world fields stay (ignored) so that older
  // readers of config.json still parse it.
  j["data"]["source"] = o.data.empty() ? "concept-world" : "feature-shards";
}

void from_json(const nlohmann::json& j, TrainOptions& o) {
  try {
    train_option_table().from_json(j, o);
    // Shard files are read only where data.source says the run read shards (and must be there).
    if (j.at("data").value("source", std::string()) == "feature-shards") {
      (void)j.at("data").at("files");
    } else {
      o.data.clear();
    }
    // Runs written before --val-tasks validated on --eval-tasks tasks.
    if (!j.at("output").contains("val_tasks")) o.out.val_tasks = o.eval.tasks;
  } catch (const nlohmann::json::exception& e) {
    throw OptionError(std::string("malformed run configuration: ") + e.what());
  }
  validate(o);
}

}  // namespace croma
