#pragma once
// What decides how this process rounds its arithmetic, so that a resumed run can tell whether
// it still continues bit for bit.
//
// croma's runs are bit-identical for every layout of the same task slots and across
// --resume, but only on machines that round alike (README, "Reproducible and resumable"): the
// same croma, device type, kind of CPU and vector unit, product kernels (libxsmm generates
// its code for the CPU it finds; OpenBLAS picks kernels by core type), BLAS library and
// intra-op thread count. On a Slurm cluster of mixed nodes a requeued job can land on another
// kind of node; it then continues correctly but no longer bit for bit with a run never
// interrupted. Each resumable checkpoint records the fingerprints of the ranks that wrote it,
// and a resume compares them with its own.
#include <string>
#include <vector>

#include <torch/torch.h>

namespace croma {

// "key=value" fields joined by "; " in a fixed order: croma, device (its type), and on the
// CPU cpu, vector_unit, small_products, blas, openblas_coretype, threads. On a GPU only the
// first two: the host's CPU and BLAS do not round the device's arithmetic, and the GPU's
// model and CUDA libraries, which do, are not recorded (LibTorch's C++ API does not name them
// without the CUDA headers).
std::string numerics_fingerprint(const torch::Device& device, int intra_op_threads);

// What differs between the fingerprints of the ranks that wrote a checkpoint (`before`) and
// of the ranks resuming it (`after`), as "key: 'old' -> 'new'" items joined by ", " (a key's
// values over several kinds of rank joined by " | "); empty when both name the same fields
// with the same values. Fingerprints from before this was recorded (`before` empty) compare
// as unknown: empty.
std::string describe_numerics_change(const std::vector<std::string>& before, const std::vector<std::string>& after);

}  // namespace croma
