// Every option of `croma train` and `croma eval`, one entry each (see option_registry.h for
// what an entry holds and what is derived from it). Defaults are the member initialisers in
// options.h. The order here is the order of --help and of range checks.
#include "croma/config/option_registry.h"

namespace croma {
namespace {

using Train = OptionTable<TrainOptions>;

// Both commands' few-shot evaluation options (stored under "eval" by `croma train`).
template <class Options>
void add_evaluation(OptionTable<Options>& t) {
  const auto eval = [](auto member) { return field(&Options::eval, member); };
  t.group("Few-shot evaluation");
  t.option("eval-ways", eval(&EvalOptions::ways), "classes per evaluation task").at_least(2).stored_at("eval.ways");
  t.option("eval-shots", eval(&EvalOptions::shots), "labelled target items per class, a list: 1,5,10")
      .at_least(1).stored_at("eval.shots");
  t.option("eval-tasks", eval(&EvalOptions::tasks), "evaluation tasks").at_least(1).stored_at("eval.tasks");
  t.option("eval-queries", eval(&EvalOptions::queries), "query items per class").at_least(1).stored_at("eval.queries");
  t.option("eval-steps", eval(&EvalOptions::steps), "fine-tuning Adam steps").at_least(0).stored_at("eval.steps");
  t.option("eval-lr", eval(&EvalOptions::lr), "fine-tuning learning rate").positive().stored_at("eval.lr");
  t.option("head-only", eval(&EvalOptions::head_only), "fine-tune the classifier only").stored_at("eval.head_only");
  t.option("eval-repeats", eval(&EvalOptions::repeats),
           "evaluation seeds (task sets); results are mean +- std over them")
      .at_least(1).stored_at("eval.repeats");
  t.option("eval-label-noise", eval(&EvalOptions::label_noise),
           "symmetric noise rates on support labels, a list: 0,0.2,0.4")
      .fraction().stored_at("eval.label_noise");
  t.option("retrieval", eval(&EvalOptions::retrieval), "also evaluate few-shot cross-modal retrieval")
      .stored_at("eval.retrieval");
  // How the work is scheduled, not what is computed (results agree to float rounding), so
  // config.json does not record it and a resumed run may change it.
  t.option("eval-fine-tune", eval(&EvalOptions::fine_tune),
           "auto | fused | autograd: the numerical path of evaluation's fine-tuning, few-shot and retrieval (auto: "
           "the fused kernels where the parts fine-tuned are MLPs on the CPU)")
      .one_of({"auto", "fused", "autograd"}).not_stored();
  t.option("eval-batch", eval(&EvalOptions::batch),
           "autograd fine-tuning: few-shot tasks fine-tuned at once with an all-MLP target path (1: one after "
           "another)")
      .at_least(1).not_stored();
}

void add_run(Train& t) {
  t.group("Run");
  t.option("seed", field(&TrainOptions::seed), "seed of everything random").stored_at("seed");
  t.option("data", field(&TrainOptions::data),
           "feature shards FILE[,FILE...] or a .txt list of them (docs/data-format.md); default: the built-in "
           "concept world")
      .without_default().stored_at("data.files").stored_when([](const TrainOptions& o) { return !o.data.empty(); });
  t.option("print-hparams", field(&TrainOptions::print_hparams),
           "print the --method's hyperparameters (default and search distribution) as JSON and exit")
      .not_stored();
}

void add_preparation(Train& t) {
  const auto prep = [](auto member) { return field(&TrainOptions::prep, member); };
  t.group("Data preparation");
  // Runs written before these options existed read raw features and validated on classes.
  t.option("standardize", prep(&PrepOptions::standardize),
           "standardise each feature with meta-train mean and std: auto (on for --data shards, off for the "
           "built-in world) | on | off")
      .one_of({"auto", "on", "off"}).stored_at("data.standardize").absent_means("off");
  t.option("val-split", prep(&PrepOptions::val_split),
           "validation tasks from: classes (meta-val classes) | items (held-out items of meta-train classes) | "
           "auto (items exactly when the data has no meta-val classes)")
      .one_of({"classes", "items", "auto"}).stored_at("data.val_split").absent_means("classes");
  t.option("val-items-fraction", prep(&PrepOptions::val_items_fraction),
           "--val-split items: fraction of each meta-train class's target items held out for validation")
      .open_fraction().stored_at("data.val_items_fraction")
      .stored_when([](const TrainOptions& o) { return o.prep.val_split != "classes"; });
  t.option("class-split-seed", prep(&PrepOptions::class_split_seed),
           "feature shards: 0 keeps the shards' meta-train/val/test classes; N > 0 redraws which classes go "
           "where from seed N, with the same number in each split")
      .stored_at("data.class_split_seed").absent_means("0")
      .stored_when([](const TrainOptions& o) { return o.prep.class_split_seed != 0; });
}

void add_world(Train& t) {
  const auto world = [](auto member) { return field(&TrainOptions::world, member); };
  using W = WorldOptions;
  t.group("Data (built-in concept world)");
  t.option("concepts", world(&W::concepts), "number of concepts (classes)").at_least(3).stored_at("data.concepts");
  t.option("latent-dim", world(&W::latent_dim), "dimension of the shared concept latent")
      .at_least(1).stored_at("data.latent_dim");
  t.option("nuisance-dim", world(&W::nuisance_dim), "dimension of each modality's own nuisance latent")
      .at_least(0).stored_at("data.nuisance_dim");
  t.option("source-dim", world(&W::source_dim), "source-modality feature dimension")
      .at_least(1).stored_at("data.source_dim");
  t.option("target-dim", world(&W::target_dim), "target-modality feature dimension")
      .at_least(1).stored_at("data.target_dim");
  t.option("samples-per-concept", world(&W::samples_per_concept), "items per concept in each modality")
      .at_least(2).stored_at("data.samples_per_concept");
  t.option("clusters-per-concept", world(&W::clusters_per_concept), "sub-concepts inside each concept (latent offsets)")
      .at_least(1).stored_at("data.clusters_per_concept");
  // Older runs: weak clusters were the sub-concepts (the default).
  t.option("classes-per-cluster", world(&W::classes_per_cluster),
           "weak clusters: 1 = the sub-concepts (inside one class); K > 1 = groups of K classes")
      .at_least(1).stored_at("data.classes_per_cluster").optional();
  t.option("concept-spread", world(&W::concept_spread), "std of concept centres in the latent")
      .non_negative().stored_at("data.concept_spread");
  t.option("cluster-spread", world(&W::cluster_spread), "std of cluster offsets around a concept centre")
      .non_negative().stored_at("data.cluster_spread");
  t.option("within-spread", world(&W::within_spread), "std of items around their cluster")
      .non_negative().stored_at("data.within_spread");
  t.option("nuisance-scale", world(&W::nuisance_scale), "std of the nuisance latent")
      .non_negative().stored_at("data.nuisance_scale");
  t.option("noise", world(&W::noise), "std of additive feature noise").non_negative().stored_at("data.noise");
  t.option("pair-noise", world(&W::pair_noise), "std of latent disagreement inside a strong pair (pair strength)")
      .non_negative().stored_at("data.pair_noise");
  t.option("train-fraction", world(&W::train_fraction), "fraction of classes for meta-training")
      .open_fraction().stored_at("data.train_fraction");
  t.option("val-fraction", world(&W::val_fraction), "fraction of classes for meta-validation")
      .open_fraction().stored_at("data.val_fraction");
  // Runs written before sequence and image forms existed have vectors only: .optional().
  const std::vector<std::string> forms = {"vector", "frames", "tokens", "image"};
  t.option("source-form", world(&W::source_form),
           "how the source modality presents items: vector | frames | tokens | image")
      .one_of(forms).stored_at("data.source_form").optional();
  t.option("target-form", world(&W::target_form),
           "how the target modality presents items: vector | frames | tokens | image")
      .one_of(forms).stored_at("data.target_form").optional();
  t.option("min-frames", world(&W::min_frames), "shortest sequence (frames, tokens)")
      .at_least(1).stored_at("data.min_frames").optional();
  t.option("max-frames", world(&W::max_frames), "longest sequence (frames, tokens)")  // >= --min-frames: a rule
      .stored_at("data.max_frames").optional();
  t.option("frame-dim", world(&W::frame_dim), "features per frame (frames form)")
      .at_least(1).stored_at("data.frame_dim").optional();
  t.option("vocab", world(&W::vocab), "vocabulary size (tokens form)").at_least(2).stored_at("data.vocab").optional();
  t.option("image-size", world(&W::image_size), "image height and width (image form)")
      .at_least(1).stored_at("data.image_size").optional();
  t.option("image-channels", world(&W::image_channels), "image channels (image form)")
      .at_least(1).stored_at("data.image_channels").optional();
}

void add_model(Train& t) {
  const auto model = [](auto member) { return field(&TrainOptions::model, member); };
  const auto source = [](auto member) { return field(&TrainOptions::model, &ModelOptions::source_encoder, member); };
  const auto target = [](auto member) { return field(&TrainOptions::model, &ModelOptions::target_encoder, member); };
  using E = EncoderOptions;
  t.group("Model (encoder options take one value for both modalities, or source,target)");
  t.option("hidden", model(&ModelOptions::hidden), "encoder hidden width (mlp, pool)").at_least(1).stored_at("model.hidden");
  t.option("embed-dim", model(&ModelOptions::embed_dim), "dimension of the aligned space")
      .at_least(1).stored_at("model.embed_dim");
  t.option("classifier-hidden", model(&ModelOptions::classifier_hidden), "meta-classifier hidden width")
      .at_least(1).stored_at("model.classifier_hidden");
  // Runs written before encoders were selectable used MLPs (the defaults) and have no
  // model.source_encoder / target_encoder objects.
  t.option("source-encoder", source(&E::kind), "source encoder: mlp (vectors) | pool | lstm (sequences) | cnn (images)")
      .stored_at("model.source_encoder.kind").optional("model.source_encoder");
  t.option("target-encoder", target(&E::kind), "target encoder: mlp (vectors) | pool | lstm (sequences) | cnn (images)")
      .stored_at("model.target_encoder.kind").optional("model.target_encoder");
  t.option("lstm-hidden", source(&E::lstm_hidden), "LSTM hidden size per direction")
      .for_both_modalities(target(&E::lstm_hidden)).at_least(1).stored_at("model.*_encoder.lstm_hidden").optional("model.*_encoder");
  t.option("lstm-layers", source(&E::lstm_layers), "LSTM layers")
      .for_both_modalities(target(&E::lstm_layers)).at_least(1).stored_at("model.*_encoder.lstm_layers").optional("model.*_encoder");
  t.option("lstm-directions", source(&E::bidirectional), "uni | bi (bidirectional LSTM)")
      .for_both_modalities(target(&E::bidirectional)).one_of({"uni", "bi"})
      .stored_at("model.*_encoder.bidirectional").optional("model.*_encoder");
  t.option("seq-pool", source(&E::pool), "pooling over time: last (lstm) | mean | max; padding never counts")
      .for_both_modalities(target(&E::pool)).stored_at("model.*_encoder.pool").optional("model.*_encoder");
  t.option("token-embedding", source(&E::token_embedding), "embedding width for token-id sequences")
      .for_both_modalities(target(&E::token_embedding)).at_least(1)
      .stored_at("model.*_encoder.token_embedding").optional("model.*_encoder");
  t.option("cnn-channels", source(&E::cnn_channels),
           "channels of each residual CNN stage, e.g. 16,32 (source/target: 16,32/8,16)")
      .for_both_modalities(target(&E::cnn_channels), '/').at_least(1)
      .stored_at("model.*_encoder.cnn_channels").optional("model.*_encoder");
}

void add_meta(Train& t) {
  const auto meta = [](auto member) { return field(&TrainOptions::meta, member); };
  using M = MetaOptions;
  t.group("Meta-training");
  t.option("steps", meta(&M::steps), "meta-steps").at_least(0).stored_at("meta.steps");
  t.option("ways", meta(&M::ways), "classes per episode (N)").at_least(2).stored_at("meta.ways");
  t.option("shots", meta(&M::shots), "items per class per episode (K)").at_least(1).stored_at("meta.shots");
  t.option("inner-steps", meta(&M::inner_steps), "inner Adam steps per episode")
      .at_least(1).stored_at("meta.inner_steps");
  t.option("inner-batch", meta(&M::inner_batch), "classification minibatch per inner step")
      .at_least(1).stored_at("meta.inner_batch");
  t.option("align-batch", meta(&M::align_batch), "alignment minibatch per inner step")
      .at_least(2).stored_at("meta.align_batch");
  t.option("inner-lr", meta(&M::inner_lr), "inner Adam learning rate").positive().stored_at("meta.inner_lr");
  t.option("adam-beta1", meta(&M::adam_beta1), "inner Adam beta1").fraction().stored_at("meta.adam_beta1");
  t.option("adam-beta2", meta(&M::adam_beta2), "inner Adam beta2").fraction().stored_at("meta.adam_beta2");
  t.option("meta-lr", meta(&M::meta_lr), "Reptile step size epsilon").positive().stored_at("meta.meta_lr");
  t.option("pairs", meta(&M::pairs), "alignment data: strong | weak").stored_at("meta.pairs");
  t.option("align-loss", meta(&M::align_loss), "alignment loss: margin | infonce").stored_at("meta.align_loss");
  t.option("margin", meta(&M::margin), "margin of the ranking alignment loss").non_negative().stored_at("meta.margin");
  t.option("temperature", meta(&M::temperature), "temperature of the InfoNCE alignment loss")
      .positive().stored_at("meta.temperature");
  t.option("tasks-per-rank", meta(&M::tasks_per_rank), "episodes of each kind per rank per meta-step (T)")
      .at_least(1).stored_at("meta.tasks_per_rank");
  // Checked against the method table by parse_method (meta/method.h), above this layer.
  t.option("method", meta(&M::method),
           "croma | target-autoencoder | unsup-meta-recon | unsup-meta-weak | align-classify | align-meta-classify "
           "| oracle | shared | shared-align | shared-confusion | shared-target-labels (a baseline's own defaults of "
           "some options, chosen from the tuning searches, replace those shown here: --print-hparams lists them)")
      .stored_at("meta.method").was_renamed("unimodal-pretrain", "target-autoencoder");
  t.option("label-noise", meta(&M::label_noise),
           "symmetric noise rate on target labels (meta-train labels a method reads; default for "
           "--eval-label-noise)")
      .fraction().stored_at("meta.label_noise");
  t.option("inner-loop", meta(&M::inner_loop),
           "auto | fused | autograd: the episodes' numerical path (auto: fused kernels where they apply)")
      .one_of({"auto", "fused", "autograd"}).stored_at("meta.inner_loop").optional();
  t.option("first-phase-fraction", meta(&M::first_phase_fraction),
           "align-classify, align-meta-classify: share of the 2 x --steps budget spent on alignment")
      .open_fraction().stored_at("meta.first_phase_fraction").optional();
}

const std::vector<std::string> kDevices = {"auto", "cpu", "cuda", "cuda:N"};

void add_distributed_and_output(Train& t) {
  const auto dist = [](auto member) { return field(&TrainOptions::dist, member); };
  const auto out = [](auto member) { return field(&TrainOptions::out, member); };
  t.group("Distributed");
  t.option("device", dist(&DistributedOptions::device),
           "auto | cpu | cuda | cuda:N (auto: cuda:<local rank> when available)")
      .one_of(kDevices).stored_at("distributed.device");
  t.option("check-every", dist(&DistributedOptions::check_every),
           "meta-steps between cross-rank checksums of the meta-parameters")
      .at_least(0).stored_at("distributed.check_every");
  t.option("threads", dist(&DistributedOptions::threads), "intra-op threads per rank")
      .at_least(1).stored_at("distributed.threads");

  t.group("Output");
  t.option("run-dir", out(&OutputOptions::run_dir), "run directory (config, metrics, checkpoints)")
      .non_empty_path().stored_at("output.run_dir");
  t.option("log-every", out(&OutputOptions::log_every), "meta-steps between metric lines")
      .at_least(1).stored_at("output.log_every");
  t.option("checkpoint-every", out(&OutputOptions::checkpoint_every), "meta-steps between checkpoints")
      .at_least(0).stored_at("output.checkpoint_every");
  t.option("val-every", out(&OutputOptions::val_every), "meta-steps between meta-validation evaluations (0: never)")
      .at_least(0).stored_at("output.val_every");
  // Older runs lack it; they validated on --eval-tasks tasks (a rule in options.cpp).
  t.option("val-tasks", out(&OutputOptions::val_tasks), "meta-val tasks of each validation during training")
      .at_least(1).stored_at("output.val_tasks").optional();
  t.option("quiet", out(&OutputOptions::quiet), "no progress on stderr").stored_at("output.quiet");
  t.option("overwrite", out(&OutputOptions::overwrite), "replace a run already in --run-dir").not_stored();
  t.option("resume", out(&OutputOptions::resume),
           "continue the run in --run-dir from its latest checkpoint (start it when there is none); the "
           "configuration must match")
      .not_stored();
  t.option("lock-wait", out(&OutputOptions::lock_wait),
           "seconds to wait for another writer of --run-dir to end or go stale before refusing (0: refuse at "
           "once; a requeued job waits out its lost predecessor's lease)")
      .at_least(0).not_stored();
}

OptionTable<TrainOptions> make_train_table() {
  Train t;
  add_run(t);
  add_preparation(t);
  add_world(t);
  add_model(t);
  add_meta(t);
  add_distributed_and_output(t);
  add_evaluation(t);
  return t;
}

OptionTable<EvalCommandOptions> make_eval_table() {
  using C = EvalCommandOptions;
  OptionTable<C> t;
  t.group("Evaluation input");
  t.option("run-dir", field(&C::run_dir), "run directory written by croma train").must_be_given();
  t.option("checkpoint", field(&C::checkpoint), "final | best | initial | path to a checkpoint .h5");
  t.option("data", field(&C::data),
           "the run's feature shards where they are now (FILE, A.h5,B.h5 or LIST.txt), when moved since training")
      .without_default();
  t.option("split", field(&C::split), "classes to evaluate on: val | test").one_of({"val", "test"});
  t.option("eval-seed", field(&C::eval_seed), "seed of the evaluation tasks (0: the run's seed)");
  t.option("device", field(&C::device), "auto | cpu | cuda | cuda:N").one_of(kDevices);
  t.option("threads", field(&C::threads), "intra-op threads").at_least(1);
  t.option("skip-untrained", field(&C::skip_untrained),
           "do not evaluate the untrained start (model selection needs the trained parameters only)");
  t.option("head", field(&C::heads),
           "few-shot heads, a list: finetune (fine-tune e_t and phi, the paper's protocol), prototype (nearest "
           "support-class mean of the frozen embeddings), logistic (logistic regression on them); the frozen heads "
           "also run on the untrained start and the raw standardised features (--head-features)");
  t.option("head-features", field(&C::head_features),
           "what the frozen heads read, a list: trained (the checkpoint's embedding), initial (the untrained "
           "start's; not with --skip-untrained), raw (the standardised target features, vector features only; "
           "the same for every method on the same episodes, so a sweep needs it in one method's runs only)");
  t.option("export-episodes", field(&C::export_episodes),
           "also write FILE.json: every episode's items and labels, each head's accuracy on it, and the frozen "
           "features the heads read (for audits and independent re-computation)")
      .without_default();
  t.option("lock-wait", field(&C::lock_wait),
           "seconds to wait for another writer of --run-dir to end or go stale before refusing (0: refuse at once)")
      .at_least(0);
  add_evaluation(t);
  return t;
}

}  // namespace

const OptionTable<TrainOptions>& train_option_table() {
  static const auto table = make_train_table();
  return table;
}

const OptionTable<EvalCommandOptions>& eval_option_table() {
  static const auto table = make_eval_table();
  return table;
}

}  // namespace croma
