#include "croma/config/options.h"

#include "croma/data/feature_shards.h"

#include <boost/program_options.hpp>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace po = boost::program_options;

namespace croma {
namespace {

// ---- conversions ---------------------------------------------------------------------

PairKind parse_pair_kind(const std::string& text) {
  if (text == "strong") return PairKind::kStrong;
  if (text == "weak") return PairKind::kWeak;
  throw OptionError("invalid value for --pairs: '" + text + "' (allowed: strong, weak)");
}

AlignLossKind parse_align_loss(const std::string& text) {
  if (text == "margin") return AlignLossKind::kMargin;
  if (text == "infonce") return AlignLossKind::kInfoNce;
  throw OptionError("invalid value for --align-loss: '" + text + "' (allowed: margin, infonce)");
}

EncoderKind parse_encoder_kind(const std::string& option, const std::string& text) {
  if (text == "mlp") return EncoderKind::kMlp;
  if (text == "pool") return EncoderKind::kPool;
  if (text == "lstm") return EncoderKind::kLstm;
  if (text == "cnn") return EncoderKind::kCnn;
  throw OptionError("invalid value for --" + option + ": '" + text + "' (allowed: mlp, pool, lstm, cnn)");
}

SequencePool parse_sequence_pool(const std::string& text) {
  if (text == "last") return SequencePool::kLast;
  if (text == "mean") return SequencePool::kMean;
  if (text == "max") return SequencePool::kMax;
  throw OptionError("invalid value for --seq-pool: '" + text + "' (allowed: last, mean, max)");
}

bool parse_directions(const std::string& text) {
  if (text == "bi") return true;
  if (text == "uni") return false;
  throw OptionError("invalid value for --lstm-directions: '" + text + "' (allowed: uni, bi)");
}

// "V" (both modalities) or "S<sep>T" (source, target).
std::pair<std::string, std::string> split_source_target(const std::string& option, const std::string& text,
                                                        char sep) {
  const auto at = text.find(sep);
  if (at == std::string::npos) return {text, text};
  const auto source = text.substr(0, at), target = text.substr(at + 1);
  if (source.empty() || target.empty() || target.find(sep) != std::string::npos) {
    throw OptionError("invalid value for --" + option + ": '" + text + "' (expected one value for both "
                      "modalities, or source" + std::string(1, sep) + "target)");
  }
  return {source, target};
}

std::int64_t parse_integer(const std::string& option, const std::string& text) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) {
    throw OptionError("invalid value for --" + option + ": '" + text + "' (expected an integer)");
  }
  return value;
}

std::vector<std::int64_t> parse_shot_list(const std::string& option, const std::string& text);

// Encoder settings as typed on the command line (strings, so that one value can serve both
// modalities), applied to both EncoderOptions after parsing.
struct EncoderText {
  std::string source_kind = "mlp", target_kind = "mlp";
  std::string lstm_hidden, lstm_layers, directions, pool, token_embedding, cnn_channels;

  explicit EncoderText(const ModelOptions& m) {
    const auto& s = m.source_encoder;
    const auto& t = m.target_encoder;
    source_kind = to_string(s.kind);
    target_kind = to_string(t.kind);
    const auto pair = [](const std::string& a, const std::string& b, char sep = ',') {
      return a == b ? a : a + sep + b;
    };
    const auto list = [](const std::vector<std::int64_t>& v) {
      std::string text;
      for (std::size_t i = 0; i < v.size(); ++i) text += (i ? "," : "") + std::to_string(v[i]);
      return text;
    };
    lstm_hidden = pair(std::to_string(s.lstm_hidden), std::to_string(t.lstm_hidden));
    lstm_layers = pair(std::to_string(s.lstm_layers), std::to_string(t.lstm_layers));
    directions = pair(s.bidirectional ? "bi" : "uni", t.bidirectional ? "bi" : "uni");
    pool = pair(to_string(s.pool), to_string(t.pool));
    token_embedding = pair(std::to_string(s.token_embedding), std::to_string(t.token_embedding));
    cnn_channels = pair(list(s.cnn_channels), list(t.cnn_channels), '/');
  }

  void apply(ModelOptions& m) const {
    auto& s = m.source_encoder;
    auto& t = m.target_encoder;
    s.kind = parse_encoder_kind("source-encoder", source_kind);
    t.kind = parse_encoder_kind("target-encoder", target_kind);
    auto both = split_source_target("lstm-hidden", lstm_hidden, ',');
    s.lstm_hidden = parse_integer("lstm-hidden", both.first);
    t.lstm_hidden = parse_integer("lstm-hidden", both.second);
    both = split_source_target("lstm-layers", lstm_layers, ',');
    s.lstm_layers = parse_integer("lstm-layers", both.first);
    t.lstm_layers = parse_integer("lstm-layers", both.second);
    both = split_source_target("lstm-directions", directions, ',');
    s.bidirectional = parse_directions(both.first);
    t.bidirectional = parse_directions(both.second);
    both = split_source_target("seq-pool", pool, ',');
    s.pool = parse_sequence_pool(both.first);
    t.pool = parse_sequence_pool(both.second);
    both = split_source_target("token-embedding", token_embedding, ',');
    s.token_embedding = parse_integer("token-embedding", both.first);
    t.token_embedding = parse_integer("token-embedding", both.second);
    both = split_source_target("cnn-channels", cnn_channels, '/');
    s.cnn_channels = parse_shot_list("cnn-channels", both.first);
    t.cnn_channels = parse_shot_list("cnn-channels", both.second);
  }
};

std::vector<std::int64_t> parse_shot_list(const std::string& option, const std::string& text) {
  std::vector<std::int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw OptionError("invalid value for --" + option + ": '" + text +
                        "' (expected a comma-separated list of positive integers, e.g. 1,5,10)");
    }
    values.push_back(value);
  }
  if (values.empty()) {
    throw OptionError("invalid value for --" + option + ": empty list (expected e.g. 1,5,10)");
  }
  return values;
}

std::vector<double> parse_rate_list(const std::string& option, const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw OptionError("invalid value for --" + option + ": '" + text +
                        "' (expected a comma-separated list of rates in [0, 1), e.g. 0,0.2,0.4)");
    }
    values.push_back(value);
  }
  if (values.empty()) throw OptionError("invalid value for --" + option + ": empty list");
  return values;
}

std::string join_rates(const std::vector<double>& values) {
  std::ostringstream out;
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  return out.str();
}

std::string join(const std::vector<std::int64_t>& values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) text += (i ? "," : "") + std::to_string(values[i]);
  return text;
}

// ---- range checks ---------------------------------------------------------------------

void require_at_least(const char* option, std::int64_t value, std::int64_t minimum) {
  if (value < minimum) {
    throw OptionError("invalid value for --" + std::string(option) + ": " + std::to_string(value) +
                      " (must be >= " + std::to_string(minimum) + ")");
  }
}

void require_positive(const char* option, double value) {
  if (!(value > 0.0) || !std::isfinite(value)) {
    std::ostringstream msg;
    msg << "invalid value for --" << option << ": " << value << " (must be a finite number > 0)";
    throw OptionError(msg.str());
  }
}

void require_non_negative(const char* option, double value) {
  if (!(value >= 0.0) || !std::isfinite(value)) {
    std::ostringstream msg;
    msg << "invalid value for --" << option << ": " << value << " (must be a finite number >= 0)";
    throw OptionError(msg.str());
  }
}

void require_open_unit(const char* option, double value, bool allow_zero) {
  const bool ok = allow_zero ? (value >= 0.0 && value < 1.0) : (value > 0.0 && value < 1.0);
  if (!ok) {
    std::ostringstream msg;
    msg << "invalid value for --" << option << ": " << value << " (must be in "
        << (allow_zero ? "[0, 1)" : "(0, 1)") << ")";
    throw OptionError(msg.str());
  }
}

void validate_device(const std::string& device) {
  if (device == "auto" || device == "cpu" || device == "cuda") return;
  if (device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
      device.find_first_not_of("0123456789", 5) == std::string::npos) {
    return;
  }
  throw OptionError("invalid value for --device: '" + device +
                    "' (allowed: auto, cpu, cuda, cuda:N)");
}

// ---- option tables --------------------------------------------------------------------

po::options_description data_group(WorldOptions& w) {
  po::options_description g("Data (built-in concept world)");
  g.add_options()
      ("concepts", po::value(&w.concepts)->default_value(w.concepts), "number of concepts (classes)")
      ("latent-dim", po::value(&w.latent_dim)->default_value(w.latent_dim), "dimension of the shared concept latent")
      ("nuisance-dim", po::value(&w.nuisance_dim)->default_value(w.nuisance_dim), "dimension of each modality's own nuisance latent")
      ("source-dim", po::value(&w.source_dim)->default_value(w.source_dim), "source-modality feature dimension")
      ("target-dim", po::value(&w.target_dim)->default_value(w.target_dim), "target-modality feature dimension")
      ("samples-per-concept", po::value(&w.samples_per_concept)->default_value(w.samples_per_concept), "items per concept in each modality")
      ("clusters-per-concept", po::value(&w.clusters_per_concept)->default_value(w.clusters_per_concept), "sub-concepts inside each concept (latent offsets)")
      ("classes-per-cluster", po::value(&w.classes_per_cluster)->default_value(w.classes_per_cluster), "weak clusters: 1 = the sub-concepts (inside one class); K > 1 = groups of K classes")
      ("concept-spread", po::value(&w.concept_spread)->default_value(w.concept_spread), "std of concept centres in the latent")
      ("cluster-spread", po::value(&w.cluster_spread)->default_value(w.cluster_spread), "std of cluster offsets around a concept centre")
      ("within-spread", po::value(&w.within_spread)->default_value(w.within_spread), "std of items around their cluster")
      ("nuisance-scale", po::value(&w.nuisance_scale)->default_value(w.nuisance_scale), "std of the nuisance latent")
      ("noise", po::value(&w.noise)->default_value(w.noise), "std of additive feature noise")
      ("pair-noise", po::value(&w.pair_noise)->default_value(w.pair_noise), "std of latent disagreement inside a strong pair (pair strength)")
      ("train-fraction", po::value(&w.train_fraction)->default_value(w.train_fraction), "fraction of classes for meta-training")
      ("val-fraction", po::value(&w.val_fraction)->default_value(w.val_fraction), "fraction of classes for meta-validation")
      ("source-form", po::value(&w.source_form)->default_value(w.source_form), "how the source modality presents items: vector | frames | tokens | image")
      ("target-form", po::value(&w.target_form)->default_value(w.target_form), "how the target modality presents items: vector | frames | tokens | image")
      ("min-frames", po::value(&w.min_frames)->default_value(w.min_frames), "shortest sequence (frames, tokens)")
      ("max-frames", po::value(&w.max_frames)->default_value(w.max_frames), "longest sequence (frames, tokens)")
      ("frame-dim", po::value(&w.frame_dim)->default_value(w.frame_dim), "features per frame (frames form)")
      ("vocab", po::value(&w.vocab)->default_value(w.vocab), "vocabulary size (tokens form)")
      ("image-size", po::value(&w.image_size)->default_value(w.image_size), "image height and width (image form)")
      ("image-channels", po::value(&w.image_channels)->default_value(w.image_channels), "image channels (image form)");
  return g;
}

po::options_description prep_group(PrepOptions& p) {
  po::options_description g("Data preparation");
  g.add_options()
      ("standardize", po::value(&p.standardize)->default_value(p.standardize), "standardise each feature with meta-train mean and std: auto (on for --data shards, off for the built-in world) | on | off")
      ("val-split", po::value(&p.val_split)->default_value(p.val_split), "validation tasks from: classes (meta-val classes) | items (held-out items of meta-train classes) | auto (items exactly when the data has no meta-val classes)")
      ("val-items-fraction", po::value(&p.val_items_fraction)->default_value(p.val_items_fraction), "--val-split items: fraction of each meta-train class's target items held out for validation");
  return g;
}

po::options_description model_group(ModelOptions& m, EncoderText& e) {
  po::options_description g("Model (encoder options take one value for both modalities, or source,target)");
  g.add_options()
      ("hidden", po::value(&m.hidden)->default_value(m.hidden), "encoder hidden width (mlp, pool)")
      ("embed-dim", po::value(&m.embed_dim)->default_value(m.embed_dim), "dimension of the aligned space")
      ("classifier-hidden", po::value(&m.classifier_hidden)->default_value(m.classifier_hidden), "meta-classifier hidden width")
      ("source-encoder", po::value(&e.source_kind)->default_value(e.source_kind), "source encoder: mlp (vectors) | pool | lstm (sequences) | cnn (images)")
      ("target-encoder", po::value(&e.target_kind)->default_value(e.target_kind), "target encoder: mlp (vectors) | pool | lstm (sequences) | cnn (images)")
      ("lstm-hidden", po::value(&e.lstm_hidden)->default_value(e.lstm_hidden), "LSTM hidden size per direction")
      ("lstm-layers", po::value(&e.lstm_layers)->default_value(e.lstm_layers), "LSTM layers")
      ("lstm-directions", po::value(&e.directions)->default_value(e.directions), "uni | bi (bidirectional LSTM)")
      ("seq-pool", po::value(&e.pool)->default_value(e.pool), "pooling over time: last (lstm) | mean | max; padding never counts")
      ("token-embedding", po::value(&e.token_embedding)->default_value(e.token_embedding), "embedding width for token-id sequences")
      ("cnn-channels", po::value(&e.cnn_channels)->default_value(e.cnn_channels), "channels of each residual CNN stage, e.g. 16,32 (source/target: 16,32/8,16)");
  return g;
}

po::options_description meta_group(MetaOptions& m, std::string& pairs, std::string& loss) {
  po::options_description g("Meta-training");
  g.add_options()
      ("steps", po::value(&m.steps)->default_value(m.steps), "meta-steps")
      ("ways", po::value(&m.ways)->default_value(m.ways), "classes per episode (N)")
      ("shots", po::value(&m.shots)->default_value(m.shots), "items per class per episode (K)")
      ("inner-steps", po::value(&m.inner_steps)->default_value(m.inner_steps), "inner Adam steps per episode")
      ("inner-batch", po::value(&m.inner_batch)->default_value(m.inner_batch), "classification minibatch per inner step")
      ("align-batch", po::value(&m.align_batch)->default_value(m.align_batch), "alignment minibatch per inner step")
      ("inner-lr", po::value(&m.inner_lr)->default_value(m.inner_lr), "inner Adam learning rate")
      ("adam-beta1", po::value(&m.adam_beta1)->default_value(m.adam_beta1), "inner Adam beta1")
      ("adam-beta2", po::value(&m.adam_beta2)->default_value(m.adam_beta2), "inner Adam beta2")
      ("meta-lr", po::value(&m.meta_lr)->default_value(m.meta_lr), "Reptile step size epsilon")
      ("pairs", po::value(&pairs)->default_value(pairs), "alignment data: strong | weak")
      ("align-loss", po::value(&loss)->default_value(loss), "alignment loss: margin | infonce")
      ("margin", po::value(&m.margin)->default_value(m.margin), "margin of the ranking alignment loss")
      ("temperature", po::value(&m.temperature)->default_value(m.temperature), "temperature of the InfoNCE alignment loss")
      ("tasks-per-rank", po::value(&m.tasks_per_rank)->default_value(m.tasks_per_rank), "episodes of each kind per rank per meta-step (T)")
      ("method", po::value(&m.method)->default_value(m.method), "croma | target-autoencoder | unsup-meta-recon | unsup-meta-weak | align-classify | align-meta-classify | oracle | shared | shared-align | shared-confusion | shared-target-labels")
      ("label-noise", po::value(&m.label_noise)->default_value(m.label_noise), "symmetric noise rate on target labels (meta-train labels a method reads; default for --eval-label-noise)")
      ("inner-loop", po::value(&m.inner_loop)->default_value(m.inner_loop), "auto | fused | autograd: the episodes' numerical path (auto: fused kernels where they apply)")
      ("first-phase-fraction", po::value(&m.first_phase_fraction)->default_value(m.first_phase_fraction), "align-classify, align-meta-classify: share of the 2 x --steps budget spent on alignment");
  return g;
}

po::options_description dist_group(DistributedOptions& d) {
  po::options_description g("Distributed");
  g.add_options()
      ("device", po::value(&d.device)->default_value(d.device), "auto | cpu | cuda | cuda:N (auto: cuda:<local rank> when available)")
      ("check-every", po::value(&d.check_every)->default_value(d.check_every), "meta-steps between cross-rank checksums of the meta-parameters")
      ("threads", po::value(&d.threads)->default_value(d.threads), "intra-op threads per rank");
  return g;
}

po::options_description output_group(OutputOptions& o) {
  po::options_description g("Output");
  g.add_options()
      ("run-dir", po::value(&o.run_dir)->default_value(o.run_dir), "run directory (config, metrics, checkpoints)")
      ("log-every", po::value(&o.log_every)->default_value(o.log_every), "meta-steps between metric lines")
      ("checkpoint-every", po::value(&o.checkpoint_every)->default_value(o.checkpoint_every), "meta-steps between checkpoints")
      ("val-every", po::value(&o.val_every)->default_value(o.val_every), "meta-steps between meta-validation evaluations (0: never)")
      ("val-tasks", po::value(&o.val_tasks)->default_value(o.val_tasks), "meta-val tasks of each validation during training")
      ("quiet", po::bool_switch(&o.quiet), "no progress on stderr")
      ("overwrite", po::bool_switch(&o.overwrite), "replace a run already in --run-dir")
      ("resume", po::bool_switch(&o.resume), "continue the run in --run-dir from its latest checkpoint (start it when there is none); the configuration must match");
  return g;
}

po::options_description eval_group(EvalOptions& e, std::string& shots, std::string& noise) {
  po::options_description g("Few-shot evaluation");
  g.add_options()
      ("eval-ways", po::value(&e.ways)->default_value(e.ways), "classes per evaluation task")
      ("eval-shots", po::value(&shots)->default_value(shots), "labelled target items per class, a list: 1,5,10")
      ("eval-tasks", po::value(&e.tasks)->default_value(e.tasks), "evaluation tasks")
      ("eval-queries", po::value(&e.queries)->default_value(e.queries), "query items per class")
      ("eval-steps", po::value(&e.steps)->default_value(e.steps), "fine-tuning Adam steps")
      ("eval-lr", po::value(&e.lr)->default_value(e.lr), "fine-tuning learning rate")
      ("head-only", po::bool_switch(&e.head_only), "fine-tune the classifier only")
      ("eval-repeats", po::value(&e.repeats)->default_value(e.repeats), "evaluation seeds (task sets); results are mean +- std over them")
      ("eval-label-noise", po::value(&noise)->default_value(noise), "symmetric noise rates on support labels, a list: 0,0.2,0.4")
      ("retrieval", po::bool_switch(&e.retrieval), "also evaluate few-shot cross-modal retrieval");
  return g;
}

// Parses argv (and --config FILE, whose values the command line overrides). Returns false
// after printing help.
bool parse_with(const std::string& usage, po::options_description& all, int argc,
                const char* const argv[], po::variables_map& vm) {
  std::string config_file;
  po::options_description general("General");
  general.add_options()("help,h", "show this help")(
      "config", po::value(&config_file), "read options from FILE (key = value lines)");
  all.add(general);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw OptionError("cannot read --config file '" + path + "'");
      po::store(po::parse_config_file(in, all, /*allow_unregistered=*/false), vm);
    }
    po::notify(vm);
  } catch (const OptionError&) {
    throw;
  } catch (const po::error& e) {
    throw OptionError(e.what());
  }
  return true;
}

}  // namespace

std::string to_string(PairKind kind) { return kind == PairKind::kStrong ? "strong" : "weak"; }
std::string to_string(AlignLossKind kind) {
  return kind == AlignLossKind::kMargin ? "margin" : "infonce";
}
std::string to_string(EncoderKind kind) {
  switch (kind) {
    case EncoderKind::kMlp: return "mlp";
    case EncoderKind::kPool: return "pool";
    case EncoderKind::kLstm: return "lstm";
    case EncoderKind::kCnn: return "cnn";
  }
  return "?";
}
std::string to_string(SequencePool pool) {
  switch (pool) {
    case SequencePool::kLast: return "last";
    case SequencePool::kMean: return "mean";
    case SequencePool::kMax: return "max";
  }
  return "?";
}

bool parse_train_options(int argc, const char* const argv[], TrainOptions& o) {
  std::string pairs = to_string(o.meta.pairs);
  std::string loss = to_string(o.meta.align_loss);
  std::string shots = join(o.eval.shots);
  std::string noise = join_rates(o.eval.label_noise);
  std::uint64_t seed = o.seed;
  EncoderText encoders(o.model);
  po::options_description all;
  po::options_description run("Run");
  std::string data;
  run.add_options()("seed", po::value(&seed)->default_value(seed), "seed of everything random")
      ("data", po::value(&data), "feature shards FILE[,FILE...] or a .txt list of them "
                                 "(docs/data-format.md); default: the built-in concept world")
      ("print-hparams", po::bool_switch(&o.print_hparams), "print the --method's hyperparameters (default and search distribution) as JSON and exit");
  all.add(run)
      .add(prep_group(o.prep))
      .add(data_group(o.world))
      .add(model_group(o.model, encoders))
      .add(meta_group(o.meta, pairs, loss))
      .add(dist_group(o.dist))
      .add(output_group(o.out))
      .add(eval_group(o.eval, shots, noise));
  po::variables_map vm;
  if (!parse_with("usage: croma train [options]", all, argc, argv, vm)) return false;
  o.seed = seed;
  if (vm.count("data")) {
    o.data.clear();
    for (const auto& path : expand_shard_paths(data)) {
      o.data.push_back(std::filesystem::absolute(path).lexically_normal().string());
    }
  }
  o.meta.pairs = parse_pair_kind(pairs);
  o.meta.align_loss = parse_align_loss(loss);
  encoders.apply(o.model);
  o.eval.shots = parse_shot_list("eval-shots", shots);
  o.eval.label_noise = parse_rate_list("eval-label-noise", noise);
  // Noisy target labels reach a method at meta-test too, unless told otherwise.
  if (vm["eval-label-noise"].defaulted()) o.eval.label_noise = {o.meta.label_noise};
  validate(o);
  return true;
}

bool parse_eval_options(int argc, const char* const argv[], EvalCommandOptions& o) {
  std::string data;
  std::string shots = join(o.eval.shots);
  std::string noise = join_rates(o.eval.label_noise);
  po::options_description all;
  po::options_description run("Evaluation input");
  run.add_options()
      ("run-dir", po::value(&o.run_dir)->required(), "run directory written by croma train")
      ("checkpoint", po::value(&o.checkpoint)->default_value(o.checkpoint), "final | best | initial | path to a checkpoint .h5")
      ("data", po::value(&data), "the run's feature shards where they are now (FILE, A.h5,B.h5 or LIST.txt), when moved since training")
      ("split", po::value(&o.split)->default_value(o.split), "classes to evaluate on: val | test")
      ("eval-seed", po::value(&o.eval_seed)->default_value(o.eval_seed), "seed of the evaluation tasks (0: the run's seed)")
      ("device", po::value(&o.device)->default_value(o.device), "auto | cpu | cuda | cuda:N")
      ("threads", po::value(&o.threads)->default_value(o.threads), "intra-op threads")
      ("skip-untrained", po::bool_switch(&o.skip_untrained), "do not evaluate the untrained start (model selection needs the trained parameters only)");
  all.add(run).add(eval_group(o.eval, shots, noise));
  po::variables_map vm;
  if (!parse_with("usage: croma eval --run-dir DIR [options]", all, argc, argv, vm)) return false;
  if (vm.count("data")) {
    o.data.clear();
    for (const auto& path : expand_shard_paths(data)) {
      o.data.push_back(std::filesystem::absolute(path).lexically_normal().string());
    }
  }
  o.eval.shots = parse_shot_list("eval-shots", shots);
  o.eval.label_noise = parse_rate_list("eval-label-noise", noise);
  for (const char* name : {"eval-ways", "eval-shots", "eval-tasks", "eval-queries", "eval-steps",
                           "eval-lr", "head-only", "eval-repeats", "eval-label-noise", "retrieval"}) {
    if (vm.count(name) && !vm[name].defaulted()) o.eval_overridden = true;
  }
  if (o.split != "val" && o.split != "test") {
    throw OptionError("invalid value for --split: '" + o.split + "' (allowed: val, test)");
  }
  validate_device(o.device);
  require_at_least("threads", o.threads, 1);
  validate(o.eval);
  return true;
}

void validate(const EvalOptions& e) {
  require_at_least("eval-ways", e.ways, 2);
  for (auto k : e.shots) require_at_least("eval-shots", k, 1);
  require_at_least("eval-tasks", e.tasks, 1);
  require_at_least("eval-queries", e.queries, 1);
  require_at_least("eval-steps", e.steps, 0);
  require_positive("eval-lr", e.lr);
  require_at_least("eval-repeats", e.repeats, 1);
  for (double p : e.label_noise) require_open_unit("eval-label-noise", p, true);
}

void validate(const PrepOptions& p) {
  if (p.standardize != "auto" && p.standardize != "on" && p.standardize != "off") {
    throw OptionError("invalid value for --standardize: '" + p.standardize + "' (allowed: auto, on, off)");
  }
  if (p.val_split != "auto" && p.val_split != "classes" && p.val_split != "items") {
    throw OptionError("invalid value for --val-split: '" + p.val_split + "' (allowed: classes, items, auto)");
  }
  require_open_unit("val-items-fraction", p.val_items_fraction, false);
}

void validate(const TrainOptions& o) {
  validate(o.prep);
  const auto& w = o.world;
  require_at_least("concepts", w.concepts, 3);
  require_at_least("latent-dim", w.latent_dim, 1);
  require_at_least("nuisance-dim", w.nuisance_dim, 0);
  require_at_least("source-dim", w.source_dim, 1);
  require_at_least("target-dim", w.target_dim, 1);
  require_at_least("samples-per-concept", w.samples_per_concept, 2);
  require_at_least("clusters-per-concept", w.clusters_per_concept, 1);
  require_at_least("classes-per-cluster", w.classes_per_cluster, 1);
  require_non_negative("concept-spread", w.concept_spread);
  require_non_negative("cluster-spread", w.cluster_spread);
  require_non_negative("within-spread", w.within_spread);
  require_non_negative("nuisance-scale", w.nuisance_scale);
  require_non_negative("noise", w.noise);
  require_non_negative("pair-noise", w.pair_noise);
  require_open_unit("train-fraction", w.train_fraction, false);
  require_open_unit("val-fraction", w.val_fraction, false);
  if (w.train_fraction + w.val_fraction >= 1.0) {
    throw OptionError("invalid values for --train-fraction and --val-fraction: they sum to " +
                      std::to_string(w.train_fraction + w.val_fraction) +
                      " (must leave classes for meta-test, sum < 1)");
  }
  for (const auto* form : {&w.source_form, &w.target_form}) {
    if (*form != "vector" && *form != "frames" && *form != "tokens" && *form != "image") {
      throw OptionError("invalid value for --" + std::string(form == &w.source_form ? "source" : "target") +
                        "-form: '" + *form + "' (allowed: vector, frames, tokens, image)");
    }
  }
  require_at_least("min-frames", w.min_frames, 1);
  require_at_least("max-frames", w.max_frames, w.min_frames);
  require_at_least("frame-dim", w.frame_dim, 1);
  require_at_least("vocab", w.vocab, 2);
  require_at_least("image-size", w.image_size, 1);
  require_at_least("image-channels", w.image_channels, 1);
  require_at_least("hidden", o.model.hidden, 1);
  for (const auto* e : {&o.model.source_encoder, &o.model.target_encoder}) {
    require_at_least("lstm-hidden", e->lstm_hidden, 1);
    require_at_least("lstm-layers", e->lstm_layers, 1);
    require_at_least("token-embedding", e->token_embedding, 1);
    for (auto c : e->cnn_channels) require_at_least("cnn-channels", c, 1);
    if (e->cnn_channels.empty()) throw OptionError("invalid value for --cnn-channels: empty list");
  }
  require_at_least("embed-dim", o.model.embed_dim, 1);
  require_at_least("classifier-hidden", o.model.classifier_hidden, 1);
  const auto& m = o.meta;
  require_at_least("steps", m.steps, 0);
  require_at_least("ways", m.ways, 2);
  require_at_least("shots", m.shots, 1);
  require_at_least("inner-steps", m.inner_steps, 1);
  require_at_least("inner-batch", m.inner_batch, 1);
  require_at_least("align-batch", m.align_batch, 2);
  require_positive("inner-lr", m.inner_lr);
  require_open_unit("adam-beta1", m.adam_beta1, true);
  require_open_unit("adam-beta2", m.adam_beta2, true);
  require_positive("meta-lr", m.meta_lr);
  require_non_negative("margin", m.margin);
  require_positive("temperature", m.temperature);
  require_at_least("tasks-per-rank", m.tasks_per_rank, 1);
  require_open_unit("label-noise", m.label_noise, true);
  if (m.inner_loop != "auto" && m.inner_loop != "fused" && m.inner_loop != "autograd") {
    throw OptionError("invalid value for --inner-loop: '" + m.inner_loop + "' (allowed: auto, fused, autograd)");
  }
  // --method is checked against the method table by parse_method (meta/method.h).
  validate_device(o.dist.device);
  require_at_least("check-every", o.dist.check_every, 0);
  require_at_least("threads", o.dist.threads, 1);
  if (o.out.run_dir.empty()) throw OptionError("invalid value for --run-dir: empty path");
  require_at_least("log-every", o.out.log_every, 1);
  require_at_least("checkpoint-every", o.out.checkpoint_every, 0);
  require_at_least("val-every", o.out.val_every, 0);
  require_at_least("val-tasks", o.out.val_tasks, 1);
  if (!(m.first_phase_fraction > 0 && m.first_phase_fraction < 1)) {
    throw OptionError("invalid value for --first-phase-fraction: " + std::to_string(m.first_phase_fraction) +
                      " (must be in (0, 1))");
  }
  if (o.out.resume && o.out.overwrite) {
    throw OptionError("--resume and --overwrite exclude each other (continue the run, or replace it)");
  }
  validate(o.eval);
}

// ---- JSON -----------------------------------------------------------------------------

void to_json(nlohmann::json& j, const EvalOptions& e) {
  j = {{"ways", e.ways},   {"shots", e.shots}, {"tasks", e.tasks}, {"queries", e.queries},
       {"steps", e.steps}, {"lr", e.lr},       {"head_only", e.head_only}, {"repeats", e.repeats},
       {"label_noise", e.label_noise}, {"retrieval", e.retrieval}};
}

void from_json(const nlohmann::json& j, EvalOptions& e) {
  j.at("ways").get_to(e.ways);
  j.at("shots").get_to(e.shots);
  j.at("tasks").get_to(e.tasks);
  j.at("queries").get_to(e.queries);
  j.at("steps").get_to(e.steps);
  j.at("lr").get_to(e.lr);
  j.at("head_only").get_to(e.head_only);
  j.at("repeats").get_to(e.repeats);
  j.at("label_noise").get_to(e.label_noise);
  j.at("retrieval").get_to(e.retrieval);
}

void to_json(nlohmann::json& j, const EncoderOptions& e) {
  j = {{"kind", to_string(e.kind)},
       {"lstm_hidden", e.lstm_hidden},
       {"lstm_layers", e.lstm_layers},
       {"bidirectional", e.bidirectional},
       {"pool", to_string(e.pool)},
       {"token_embedding", e.token_embedding},
       {"cnn_channels", e.cnn_channels}};
}

void from_json(const nlohmann::json& j, EncoderOptions& e) {
  e.kind = parse_encoder_kind("source-encoder/--target-encoder", j.at("kind").get<std::string>());
  j.at("lstm_hidden").get_to(e.lstm_hidden);
  j.at("lstm_layers").get_to(e.lstm_layers);
  j.at("bidirectional").get_to(e.bidirectional);
  e.pool = parse_sequence_pool(j.at("pool").get<std::string>());
  j.at("token_embedding").get_to(e.token_embedding);
  j.at("cnn_channels").get_to(e.cnn_channels);
}

void to_json(nlohmann::json& j, const TrainOptions& o) {
  const auto& w = o.world;
  const auto& m = o.meta;
  j = nlohmann::json{
      {"seed", o.seed},
      {"data",
       {{"source", "concept-world"},
        {"concepts", w.concepts},
        {"latent_dim", w.latent_dim},
        {"nuisance_dim", w.nuisance_dim},
        {"source_dim", w.source_dim},
        {"target_dim", w.target_dim},
        {"samples_per_concept", w.samples_per_concept},
        {"clusters_per_concept", w.clusters_per_concept},
        {"classes_per_cluster", w.classes_per_cluster},
        {"concept_spread", w.concept_spread},
        {"cluster_spread", w.cluster_spread},
        {"within_spread", w.within_spread},
        {"nuisance_scale", w.nuisance_scale},
        {"noise", w.noise},
        {"pair_noise", w.pair_noise},
        {"train_fraction", w.train_fraction},
        {"val_fraction", w.val_fraction},
        {"source_form", w.source_form},
        {"target_form", w.target_form},
        {"min_frames", w.min_frames},
        {"max_frames", w.max_frames},
        {"frame_dim", w.frame_dim},
        {"vocab", w.vocab},
        {"image_size", w.image_size},
        {"image_channels", w.image_channels}}},
      {"model",
       {{"hidden", o.model.hidden},
        {"embed_dim", o.model.embed_dim},
        {"classifier_hidden", o.model.classifier_hidden},
        {"source_encoder", o.model.source_encoder},
        {"target_encoder", o.model.target_encoder}}},
      {"meta",
       {{"steps", m.steps},
        {"ways", m.ways},
        {"shots", m.shots},
        {"inner_steps", m.inner_steps},
        {"inner_batch", m.inner_batch},
        {"align_batch", m.align_batch},
        {"inner_lr", m.inner_lr},
        {"adam_beta1", m.adam_beta1},
        {"adam_beta2", m.adam_beta2},
        {"meta_lr", m.meta_lr},
        {"pairs", to_string(m.pairs)},
        {"align_loss", to_string(m.align_loss)},
        {"margin", m.margin},
        {"temperature", m.temperature},
        {"tasks_per_rank", m.tasks_per_rank},
        {"method", m.method},
        {"label_noise", m.label_noise},
        {"inner_loop", m.inner_loop},
        {"first_phase_fraction", m.first_phase_fraction}}},
      {"distributed",
       {{"device", o.dist.device}, {"check_every", o.dist.check_every}, {"threads", o.dist.threads}}},
      {"output",
       {{"run_dir", o.out.run_dir},
        {"log_every", o.out.log_every},
        {"checkpoint_every", o.out.checkpoint_every},
        {"val_every", o.out.val_every},
        {"val_tasks", o.out.val_tasks},
        {"quiet", o.out.quiet}}},
      {"eval", o.eval}};
  if (!o.data.empty()) {
    // The world fields stay (and are ignored) so older readers of config.json still parse it.
    j["data"]["source"] = "feature-shards";
    j["data"]["files"] = o.data;
  }
  j["data"]["standardize"] = o.prep.standardize;
  j["data"]["val_split"] = o.prep.val_split;
  if (o.prep.val_split != "classes") j["data"]["val_items_fraction"] = o.prep.val_items_fraction;
}

void from_json(const nlohmann::json& j, TrainOptions& o) {
  try {
    j.at("seed").get_to(o.seed);
    const auto& d = j.at("data");
    auto& w = o.world;
    d.at("concepts").get_to(w.concepts);
    d.at("latent_dim").get_to(w.latent_dim);
    d.at("nuisance_dim").get_to(w.nuisance_dim);
    d.at("source_dim").get_to(w.source_dim);
    d.at("target_dim").get_to(w.target_dim);
    d.at("samples_per_concept").get_to(w.samples_per_concept);
    d.at("clusters_per_concept").get_to(w.clusters_per_concept);
    w.classes_per_cluster = d.value("classes_per_cluster", std::int64_t{1});  // older runs: sub-concepts
    d.at("concept_spread").get_to(w.concept_spread);
    d.at("cluster_spread").get_to(w.cluster_spread);
    d.at("within_spread").get_to(w.within_spread);
    d.at("nuisance_scale").get_to(w.nuisance_scale);
    d.at("noise").get_to(w.noise);
    d.at("pair_noise").get_to(w.pair_noise);
    d.at("train_fraction").get_to(w.train_fraction);
    d.at("val_fraction").get_to(w.val_fraction);
    // Runs written before sequence and image forms existed have vectors only.
    const WorldOptions defaults;
    w.source_form = d.value("source_form", defaults.source_form);
    w.target_form = d.value("target_form", defaults.target_form);
    w.min_frames = d.value("min_frames", defaults.min_frames);
    w.max_frames = d.value("max_frames", defaults.max_frames);
    w.frame_dim = d.value("frame_dim", defaults.frame_dim);
    w.vocab = d.value("vocab", defaults.vocab);
    w.image_size = d.value("image_size", defaults.image_size);
    w.image_channels = d.value("image_channels", defaults.image_channels);
    o.data.clear();
    if (d.value("source", std::string()) == "feature-shards") d.at("files").get_to(o.data);
    // Runs written before these options existed read raw features and validated on classes.
    o.prep.standardize = d.value("standardize", std::string("off"));
    o.prep.val_split = d.value("val_split", std::string("classes"));
    o.prep.val_items_fraction = d.value("val_items_fraction", PrepOptions().val_items_fraction);
    const auto& md = j.at("model");
    md.at("hidden").get_to(o.model.hidden);
    md.at("embed_dim").get_to(o.model.embed_dim);
    md.at("classifier_hidden").get_to(o.model.classifier_hidden);
    // Runs written before encoders were selectable used MLPs.
    o.model.source_encoder = md.value("source_encoder", EncoderOptions());
    o.model.target_encoder = md.value("target_encoder", EncoderOptions());
    const auto& mt = j.at("meta");
    auto& m = o.meta;
    mt.at("steps").get_to(m.steps);
    mt.at("ways").get_to(m.ways);
    mt.at("shots").get_to(m.shots);
    mt.at("inner_steps").get_to(m.inner_steps);
    mt.at("inner_batch").get_to(m.inner_batch);
    mt.at("align_batch").get_to(m.align_batch);
    mt.at("inner_lr").get_to(m.inner_lr);
    mt.at("adam_beta1").get_to(m.adam_beta1);
    mt.at("adam_beta2").get_to(m.adam_beta2);
    mt.at("meta_lr").get_to(m.meta_lr);
    m.pairs = parse_pair_kind(mt.at("pairs").get<std::string>());
    m.align_loss = parse_align_loss(mt.at("align_loss").get<std::string>());
    mt.at("margin").get_to(m.margin);
    mt.at("temperature").get_to(m.temperature);
    mt.at("tasks_per_rank").get_to(m.tasks_per_rank);
    mt.at("method").get_to(m.method);
    // Runs written before the rename: the autoencoder baseline was called unimodal-pretrain.
    if (m.method == "unimodal-pretrain") m.method = "target-autoencoder";
    mt.at("label_noise").get_to(m.label_noise);
    m.inner_loop = mt.value("inner_loop", std::string("auto"));
    m.first_phase_fraction = mt.value("first_phase_fraction", MetaOptions().first_phase_fraction);
    const auto& ds = j.at("distributed");
    ds.at("device").get_to(o.dist.device);
    ds.at("check_every").get_to(o.dist.check_every);
    ds.at("threads").get_to(o.dist.threads);
    const auto& out = j.at("output");
    out.at("run_dir").get_to(o.out.run_dir);
    out.at("log_every").get_to(o.out.log_every);
    out.at("checkpoint_every").get_to(o.out.checkpoint_every);
    out.at("val_every").get_to(o.out.val_every);
    out.at("quiet").get_to(o.out.quiet);
    j.at("eval").get_to(o.eval);
    // Runs written before --val-tasks validated on --eval-tasks tasks.
    o.out.val_tasks = out.value("val_tasks", o.eval.tasks);
  } catch (const nlohmann::json::exception& e) {
    throw OptionError(std::string("malformed run configuration: ") + e.what());
  }
  validate(o);
}

}  // namespace croma
