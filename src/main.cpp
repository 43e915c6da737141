// croma: cross-modal generalization by meta-alignment. main() only dispatches subcommands
// and turns any error into one line on stderr and a non-zero exit (aborting the MPI job, so
// no rank is left waiting for one that failed).

#include <cstring>
#include <iostream>
#include <string>

#include "croma/app/commands.h"
#include "croma/config/options.h"
#include "croma/distributed/collective_error.h"
#include "croma/distributed/communicator.h"
#include "croma/io/hdf5_util.h"
#include "croma/util/runtime.h"

namespace {

constexpr int kUsageError = 2;
constexpr int kRuntimeError = 1;

void print_usage(std::ostream& out) {
  out << "usage: croma <command> [options]\n\n"
         "commands:\n"
         "  train   meta-train CroMA (Algorithm 1) or a baseline, on the built-in concept world or feature shards\n"
         "  eval    few-shot classification (and retrieval) in the target modality from a run's checkpoint\n"
         "  inspect validate feature shard files and summarise them\n"
         "  study   alignment vs supervision study (paper 5.5, Fig. 8; Appendix E weak alignment)\n"
         "  advise  predicted errors of supervised vs cross-modal learning for a setting\n"
         "  bench   meta-training throughput on the bench configuration\n\n"
         "`croma <command> --help` lists a command's options.\n\n"
         "exit codes: 0 done, 1 runtime error, 2 bad option, 75 stopped by SIGTERM/SIGUSR1 after\n"
         "a checkpoint (continue with `croma train --resume`; see docs/cluster.md)\n";
}

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

}  // namespace

int main(int argc, char** argv) {
  croma::keep_freed_memory_in_heap();
  croma::hdf5::skip_cleanup_at_exit();  // its noise after an I/O error helps nobody
  croma::MpiSession mpi(&argc, &argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    if (world_rank() == 0) print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? kUsageError : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    if (world_rank() == 0) std::cout << "croma " << CROMA_VERSION << "\n";
    return 0;
  }
  const std::string command = argv[1];
  try {
    if (command == "train") return croma::run_train_command(argc - 1, argv + 1);
    if (command == "eval") return croma::run_eval_command(argc - 1, argv + 1);
    if (command == "inspect") return croma::run_inspect_command(argc - 1, argv + 1);
    if (command == "study") return croma::run_study_command(argc - 1, argv + 1);
    if (command == "advise") return croma::run_advise_command(argc - 1, argv + 1);
    if (command == "bench") return croma::run_bench_command(argc - 1, argv + 1);
    if (world_rank() == 0) {
      std::cerr << "croma: error: unknown command '" << command << "' (commands: train, eval, inspect, study, advise, bench; see croma --help)\n";
    }
    return kUsageError;
  } catch (const croma::CollectiveError& e) {
    if (e.report()) std::cerr << "croma " << command << ": error: " << e.what() << std::endl;
    return kRuntimeError;  // every rank got here together: no MPI_Abort needed
  } catch (const croma::OptionError& e) {
    // Every rank parses the same arguments and fails the same way: one report is enough.
    if (world_rank() == 0) std::cerr << "croma " << command << ": error: " << e.what() << "\n";
    return kUsageError;
  } catch (const std::exception& e) {
    std::cerr << "croma " << command << ": error"
              << (world_size() > 1 ? " (rank " + std::to_string(world_rank()) + ")" : "") << ": "
              << e.what() << std::endl;
    if (world_size() > 1) croma::Communicator::abort(kRuntimeError);
    return kRuntimeError;
  }
}
