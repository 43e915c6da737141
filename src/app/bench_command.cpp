// `croma bench`: meta-training throughput of a method (--method, default croma) on the bench
// configuration of docs/performance.md, with a per-phase breakdown. Nothing is written to disk.
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "croma/app/commands.h"
#include "croma/meta/experiment.h"
#include "croma/config/options.h"
#include "croma/data/feature_shards.h"
#include "croma/distributed/communicator.h"
#include "croma/meta/flat_adam.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "croma/model/mlp_kernels.h"
#include "croma/model/small_products.h"
#include "croma/tasks/inner_problem.h"
#include "croma/util/progress.h"
#include "croma/util/runtime.h"

namespace croma {
namespace {

// The bench configuration: source 512-d, target 128-d, embedding 256; encoders
// Linear(d,256)-ReLU-Linear(256,256); classifier Linear(256,256)-ReLU-Linear(256,5); 5-way
// 5-shot; 5 inner Adam steps with minibatch 8 for both episodes; epsilon 0.1.
TrainOptions bench_defaults() {
  TrainOptions o;
  o.world.source_dim = 512;
  o.world.target_dim = 128;
  o.model.hidden = 256;
  o.model.embed_dim = 256;
  o.model.classifier_hidden = 256;
  o.meta.steps = 300;
  o.meta.ways = 5;
  o.meta.shots = 5;
  o.meta.inner_steps = 5;
  o.meta.inner_batch = 8;
  o.meta.align_batch = 8;
  o.meta.meta_lr = 0.1;
  o.out.quiet = true;
  return o;
}

// CPU seconds (user + system) this process has used: on a shared machine the rate per CPU
// second is far steadier than the rate per wall second.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// Median seconds of one call of f over `reps` calls (after two warm-up calls).
template <class F>
double median_seconds(int reps, F&& f) {
  f();
  f();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
  return t[static_cast<std::size_t>(reps / 2)];
}

// What the machine needs for one meta-iteration's arithmetic, measured on this machine: the
// matrix products of the fused inner loops (each product timed on its own with the shapes of
// this configuration, with the kernels the loop runs: model/small_products.h) and the fused
// Adam pass over the adapted ranges, hot in cache. Computed from the inner problems the tasks
// state, so every method the fused kernels run has its own floor.
class MachineFloor {
 public:
  MachineFloor(const CromaModel& model, const MetaOptions& m) : model_(model), m_(m) {}

  // Adds one meta-iteration of this phase's tasks, weighted by `share`; false (and nothing
  // added) when a task's problem is not one the fused kernels run.
  bool add_phase(const InnerTaskList& tasks, double share) {
    Totals phase;
    for (const auto& task : tasks) {
      if (!add_task(task->problem(), task->range(), phase)) return false;
    }
    totals_.gemm_s += share * phase.gemm_s;
    totals_.flops += share * phase.flops;
    totals_.adam_s += share * phase.adam_s;
    totals_.adam_bytes += share * phase.adam_bytes;
    return true;
  }

  nlohmann::json summary() {
    auto big = torch::randn({1024, 1024}), big_out = torch::empty({1024, 1024});
    const double big_rate = 2.0 * 1024 * 1024 * 1024 / median_seconds(5, [&] { at::mm_out(big_out, big, big); });
    const auto& t = totals_;
    return {{"products_ms", 1e3 * t.gemm_s},
            {"products_gflop", t.flops * 1e-9},
            {"products_gflop_per_s", t.flops / t.gemm_s * 1e-9},
            {"adam_ms", 1e3 * t.adam_s},
            {"adam_mb", t.adam_bytes * 1e-6},
            {"adam_gb_per_s", t.adam_bytes / t.adam_s * 1e-9},
            {"floor_ms", 1e3 * (t.gemm_s + t.adam_s)},
            {"floor_meta_iterations_per_s", 1.0 / (t.gemm_s + t.adam_s)},
            {"large_product_gflop_per_s", big_rate * 1e-9},
            {"small_products", SmallProducts::accelerated() ? "libxsmm" : "at::mm_out"}};
  }

 private:
  struct Totals {
    double gemm_s = 0, flops = 0, adam_s = 0, adam_bytes = 0;
  };

  // count x one product of a layer [in -> out] on `rows` rows, timed once per shape with the
  // kernels the fused loop runs (model/small_products.h).
  enum class Product { kForward, kWeightGrad, kInputGrad };
  void product(Totals& t, double count, Product kind, std::int64_t rows, std::int64_t in, std::int64_t out) {
    const auto key = std::to_string(static_cast<int>(kind)) + ":" + std::to_string(rows) + "x" +
                     std::to_string(in) + "x" + std::to_string(out);
    auto it = seconds_.find(key);
    if (it == seconds_.end()) {
      const auto x = torch::randn({rows, in}), w = torch::randn({out, in}), g = torch::randn({rows, out});
      auto y = torch::empty({rows, out}), dw = torch::empty({out, in}), dx = torch::empty({rows, in});
      SmallProducts p;
      it = seconds_.emplace(key, median_seconds(60, [&] {
        switch (kind) {
          case Product::kForward: p.forward(x.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), rows, in, out); break;
          case Product::kWeightGrad:
            p.weight_grad(g.data_ptr<float>(), x.data_ptr<float>(), dw.data_ptr<float>(), rows, in, out, false);
            break;
          case Product::kInputGrad: p.input_grad(g.data_ptr<float>(), w.data_ptr<float>(), dx.data_ptr<float>(), rows, in, out); break;
        }
      })).first;
    }
    t.gemm_s += count * it->second;
    t.flops += count * 2.0 * static_cast<double>(rows * in * out);
  }
  // Every inner step: forward, weight gradients, and the input gradients between layers (and
  // into the part's input where another part feeds it: `input_grad`).
  void train(Totals& t, const std::vector<DenseLayer>& layers, std::int64_t rows, bool input_grad) {
    const double steps = static_cast<double>(m_.inner_steps);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      product(t, steps, Product::kForward, rows, layers[l].in, layers[l].out);
      product(t, steps, Product::kWeightGrad, rows, layers[l].in, layers[l].out);
      if (l > 0 || input_grad) product(t, steps, Product::kInputGrad, rows, layers[l].in, layers[l].out);
    }
  }
  // Once per episode: rows through a frozen part.
  void forward(Totals& t, const std::vector<DenseLayer>& layers, std::int64_t rows) {
    for (const auto& l : layers) product(t, 1.0, Product::kForward, rows, l.in, l.out);
  }

  // A held-fixed part (the discriminator in the encoder's loss): forward and input gradients only.
  void fixed(Totals& t, const std::vector<DenseLayer>& layers, std::int64_t rows) {
    const double steps = static_cast<double>(m_.inner_steps);
    for (const auto& l : layers) {
      product(t, steps, Product::kForward, rows, l.in, l.out);
      product(t, steps, Product::kInputGrad, rows, l.in, l.out);
    }
  }
  // The target path: e_t, or with a shared encoder the input map and then e_s, whose input
  // gradient feeds the map.
  bool target_path(Totals& t, std::int64_t rows) {
    const auto first = model_.mlp_layers(ModelPart::kTargetEncoder);
    if (!first) return false;
    train(t, *first, rows, false);
    if (model_.shape().shared_encoder) train(t, *model_.mlp_layers(ModelPart::kSourceEncoder), rows, true);
    return true;
  }

  bool add_task(const InnerProblem& p, ParamRange range, Totals& t) {
    const auto parts = inner_parts(p, model_.shape().shared_encoder);
    const auto es = model_.mlp_layers(ModelPart::kSourceEncoder);
    const std::int64_t episode = m_.ways * m_.shots;
    const std::int64_t rows = std::min(episode, p.batch);
    if (!parts || !es) return false;
    for (const auto path : {parts->first, parts->second}) {
      if (path == RowPath::kFrozenSource) forward(t, *es, episode);
      if (path == RowPath::kSource) train(t, *es, rows, false);
      if (path == RowPath::kTarget && !target_path(t, rows)) return false;
    }
    // The head; its input gradient feeds the encoder path before it, where that adapts.
    const bool into_encoder = parts->first == RowPath::kSource || parts->first == RowPath::kTarget;
    switch (parts->head) {
      case InnerHead::kNone:
        break;
      case InnerHead::kClassifier: {
        const auto phi = model_.mlp_layers(ModelPart::kClassifier);
        if (!phi) return false;
        train(t, *phi, rows, into_encoder);
        break;
      }
      case InnerHead::kClassChain: {
        const auto phi = model_.mlp_layers(ModelPart::kClassifier);
        const auto head = model_.mlp_layers(ModelPart::kClassHead);
        if (!phi || !head) return false;
        std::vector<DenseLayer> chain{phi->front()};
        chain.insert(chain.end(), head->begin(), head->end());
        train(t, chain, rows, into_encoder);
        break;
      }
      case InnerHead::kDecoder: {
        const auto decoder = model_.mlp_layers(ModelPart::kDecoder);
        if (!decoder) return false;
        train(t, *decoder, rows, into_encoder);
        break;
      }
      case InnerHead::kDomainHead: {
        const auto domain = model_.mlp_layers(ModelPart::kDomainHead);
        if (!domain) return false;
        train(t, *domain, 2 * rows, false);  // the discriminator on both row sets
        fixed(t, *domain, p.loss == InnerLoss::kDomainAdversarial ? rows : 2 * rows);
        break;
      }
    }
    auto pv = torch::randn({range.size()}), g = torch::randn({range.size()});
    FlatAdam adam;
    adam.reset(range.size(), torch::kCPU);
    const double steps = static_cast<double>(m_.inner_steps);
    t.adam_s += steps * median_seconds(60, [&] { adam.step(pv, g, AdamSettings{}); });
    t.adam_bytes += steps * 28.0 * static_cast<double>(range.size());  // read p g m v, write p m v
    return true;
  }

  const CromaModel& model_;
  const MetaOptions& m_;
  Totals totals_;
  std::map<std::string, double> seconds_;
};

// One phase's tasks timed over `steps` meta-steps after a warm-up.
struct PhaseMeasurement {
  double wall = 0, cpu = 0;
  std::int64_t episodes = 0;
  PhaseTimings timings;  // this phase's share of the trainer's cumulative timings
};

PhaseMeasurement measure_phase(MetaTrainer& trainer, const Communicator& comm, std::int64_t steps) {
  const std::int64_t warmup = std::min<std::int64_t>(20, steps);
  for (std::int64_t s = 0; s < warmup; ++s) trainer.step();
  comm.barrier();
  const PhaseTimings before = trainer.timings();
  const double cpu_before = cpu_seconds();
  ProgressReporter clock(steps, std::cerr, false);
  PhaseMeasurement m;
  for (std::int64_t s = 0; s < steps; ++s) m.episodes += trainer.step().episodes;
  comm.barrier();
  // The slowest rank sets the pace.
  m.wall = comm.max(clock.elapsed_seconds());
  m.cpu = comm.max(cpu_seconds() - cpu_before);
  const auto& after = trainer.timings();
  m.timings = {after.sampling - before.sampling, after.forward_backward - before.forward_backward,
               after.optimizer - before.optimizer, after.reptile - before.reptile,
               after.allreduce - before.allreduce};
  return m;
}

nlohmann::json phase_ms(const PhaseTimings& t, std::int64_t steps) {
  const double per = 1e3 / static_cast<double>(std::max<std::int64_t>(steps, 1));
  return {{"sampling", per * t.sampling},
          {"inner_forward_backward", per * t.forward_backward},
          {"optimizer", per * t.optimizer},
          {"reptile_update", per * t.reptile},
          {"allreduce", per * t.allreduce}};
}

}  // namespace

int run_bench_command(int argc, const char* const argv[]) {
  TrainOptions o = bench_defaults();
  if (!parse_train_options(argc, argv, o, "usage: croma bench [options]")) return 0;
  o.data = resolve_shard_paths(o.data);
  const auto comm = Communicator::world();
  at::set_num_threads(static_cast<int>(o.dist.threads));
  const auto device = resolve_device(o.dist.device, comm.local_rank());
  Experiment exp(o, "croma bench");
  exp.sampler().check_meta_training(o.meta);
  // The method's own phases and tasks, each timed over --steps meta-steps; a method of
  // several phases is summarised by their mix in training (each phase weighted by the share
  // of --steps it gets there).
  const auto phases = plan_method(parse_method(o.meta.method), o, exp.sampler());
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, device);
  const bool force_autograd = [] {
    // CROMA_INNER_LOOP=autograd measures the general path on a model the fused one handles.
    const char* loop = std::getenv("CROMA_INNER_LOOP");
    return loop && std::string(loop) == "autograd";
  }();
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  std::int64_t planned_steps = 0;
  for (const auto& phase : phases) planned_steps += phase.steps;
  nlohmann::json phase_rows = nlohmann::json::array();
  double wall_per_iteration = 0, cpu_per_iteration = 0, episodes = 0;
  PhaseTimings mixed;
  bool all_fused = true;
  // The floor needs the CPU and a problem the fused kernels run in every phase.
  const bool want_floor = device.is_cpu() && !std::getenv("CROMA_BENCH_NO_FLOOR");
  MachineFloor floor_of_method(exp.model(), o.meta);
  bool has_floor = want_floor && comm.is_root();
  for (const auto& phase : phases) {
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    trainer.set_inner_loop(force_autograd ? "autograd" : o.meta.inner_loop);
    const auto m = measure_phase(trainer, comm, o.meta.steps);
    const double share = static_cast<double>(phase.steps) / static_cast<double>(std::max<std::int64_t>(planned_steps, 1));
    const double steps = static_cast<double>(std::max<std::int64_t>(o.meta.steps, 1));
    wall_per_iteration += share * m.wall / steps;
    cpu_per_iteration += share * m.cpu / steps;
    episodes += share * static_cast<double>(m.episodes) / steps;
    mixed.sampling += share * m.timings.sampling;
    mixed.forward_backward += share * m.timings.forward_backward;
    mixed.optimizer += share * m.timings.optimizer;
    mixed.reptile += share * m.timings.reptile;
    mixed.allreduce += share * m.timings.allreduce;
    all_fused = all_fused && trainer.fused_inner_loop();
    if (has_floor) has_floor = floor_of_method.add_phase(phase.make_tasks(trainer.context()), share);
    phase_rows.push_back({{"phase", phase.name},
                          {"share_of_steps", share},
                          {"meta_iterations_per_s", steps / m.wall},
                          {"meta_iterations_per_cpu_s", steps / m.cpu},
                          {"inner_loop", trainer.fused_inner_loop() ? "fused" : "autograd"},
                          {"phase_ms_per_iteration", phase_ms(m.timings, o.meta.steps)}});
  }
  if (!comm.is_root()) return 0;
  const auto method = parse_method(o.meta.method);
  const nlohmann::json floor = has_floor ? floor_of_method.summary() : nlohmann::json(nullptr);
  nlohmann::json summary = {
      {"command", "bench"},
      {"method", to_string(method)},
      {"meta_iterations", o.meta.steps},
      {"meta_iterations_per_s", 1.0 / wall_per_iteration},
      {"meta_iterations_per_s_per_rank", static_cast<double>(o.meta.tasks_per_rank) / wall_per_iteration},
      {"meta_iterations_per_cpu_s", 1.0 / cpu_per_iteration},
      {"episodes_per_s", episodes / wall_per_iteration},
      {"phase_ms_per_iteration", phase_ms(mixed, o.meta.steps)},
      {"phases", phase_rows},
      {"parameters", exp.model().numel()},
      {"peak_rss_mib", peak_rss_mib()},
      {"blas", loaded_blas()},
      {"threads", at::get_num_threads()},
      {"device", device.str()},
      {"world_size", comm.size()},
      {"tasks_per_rank", o.meta.tasks_per_rank},
      {"inner_loop", all_fused ? "fused" : "autograd"},
      {"machine_floor", floor}};
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
