#include <gtest/gtest.h>

#include "croma/app/numerics_fingerprint.h"
#include "croma/model/small_products.h"

namespace croma {
namespace {

TEST(NumericsFingerprint, NamesEveryFieldInOrderAndIsStable) {
  const auto f = numerics_fingerprint(torch::Device(torch::kCPU), 3);
  std::size_t at = 0;
  for (const char* key : {"croma=", "; device=cpu; cpu=", "; vector_unit=", "; small_products=", "; blas=",
                          "; openblas_coretype=", "; threads=3"}) {
    const auto found = f.find(key, at);
    ASSERT_NE(found, std::string::npos) << key << " missing or out of order in " << f;
    at = found;
  }
  EXPECT_NE(f.find("small_products=" + SmallProducts::kernel_target()), std::string::npos) << f;
  EXPECT_EQ(f, numerics_fingerprint(torch::Device(torch::kCPU), 3));
  EXPECT_NE(f, numerics_fingerprint(torch::Device(torch::kCPU), 1));
}

TEST(NumericsFingerprint, ADeviceIsRecordedByItsTypeAlone) {
  // Ranks map to cuda:<local rank>; another number of ranks per node changes no rounding.
  const auto gpu0 = numerics_fingerprint(torch::Device(torch::kCUDA, 0), 1);
  EXPECT_EQ(gpu0, numerics_fingerprint(torch::Device(torch::kCUDA, 1), 4));
  EXPECT_EQ(gpu0.substr(gpu0.find("; ")), "; device=cuda");
}

TEST(NumericsFingerprint, TheSameRanksChangeNothing) {
  const std::vector<std::string> ranks = {"croma=1; cpu=A; threads=1", "croma=1; cpu=B; threads=1"};
  EXPECT_EQ(describe_numerics_change(ranks, ranks), "");
  // A checkpoint from before fingerprints were recorded: unknown, so nothing is claimed.
  EXPECT_EQ(describe_numerics_change({}, ranks), "");
}

TEST(NumericsFingerprint, AChangeNamesTheFieldAndBothValues) {
  EXPECT_EQ(describe_numerics_change({"croma=1; cpu=AMD EPYC; threads=1"}, {"croma=1; cpu=Intel Xeon; threads=1"}),
            "cpu: 'AMD EPYC' -> 'Intel Xeon'");
  EXPECT_EQ(describe_numerics_change({"croma=1; cpu=A; threads=1"}, {"croma=2; cpu=A; threads=4"}),
            "croma: '1' -> '2', threads: '1' -> '4'");
}

TEST(NumericsFingerprint, RanksOnSeveralKindsOfNodeAreListedTogether) {
  // Resumed on a mix of the old node kind and a new one: the new kind shows.
  EXPECT_EQ(describe_numerics_change({"cpu=A; vector_unit=avx512f"},
                                     {"cpu=A; vector_unit=avx512f", "cpu=B; vector_unit=avx2"}),
            "cpu: 'A' -> 'A | B', vector_unit: 'avx512f' -> 'avx2 | avx512f'");
  // A field only one side has.
  EXPECT_EQ(describe_numerics_change({"cpu=A"}, {"cpu=A; threads=2"}), "threads: '(none)' -> '2'");
}

}  // namespace
}  // namespace croma
