#pragma once
// Subcommands of the croma executable. Each takes its own argv (argv[0] is the subcommand
// name), prints its progress on stderr, ends stdout with one JSON summary line, and returns
// the process exit code. Errors are thrown; main() reports them.
namespace croma {

int run_train_command(int argc, const char* const argv[]);
int run_eval_command(int argc, const char* const argv[]);
int run_bench_command(int argc, const char* const argv[]);
int run_inspect_command(int argc, const char* const argv[]);  // validate feature shards
int run_study_command(int argc, const char* const argv[]);
int run_advise_command(int argc, const char* const argv[]);

}  // namespace croma
