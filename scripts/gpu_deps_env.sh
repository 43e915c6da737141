# Sourced: points CMake, the linker and mpirun at the Debian packages that
# scripts/gpu_deps_unpack.sh unpacked into PREFIX (default .gpu-deps/root of this checkout).
#   source scripts/gpu_deps_env.sh [PREFIX]
# Sets PATH, LD_LIBRARY_PATH, CMAKE_PREFIX_PATH, the Open MPI relocation variables, and
# CROMA_DEPS_CMAKE_ARGS (one string of -D hints, for an unquoted use on a cmake line).
croma_deps_prefix=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)/.gpu-deps/root}
croma_deps_prefix=$(cd "$croma_deps_prefix" && pwd -P) || return 1
export CROMA_DEPS_PREFIX=$croma_deps_prefix
croma_deps_lib=$CROMA_DEPS_PREFIX/usr/lib/x86_64-linux-gnu
export PATH=$CROMA_DEPS_PREFIX/usr/bin:$PATH
# Shared libraries: the unpacked ones first (libhdf5 and Open MPI pull in libcurl, libpmix...
# which the node may lack or hold under other package names).
export LD_LIBRARY_PATH=$croma_deps_lib:$croma_deps_lib/openmpi/lib:$croma_deps_lib/hdf5/serial:$croma_deps_lib/pmix2/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# A relocated Open MPI finds its components, help texts and wrapper data under OPAL_PREFIX;
# Debian's sysconfdir (/etc/openmpi) lies outside its prefix (/usr), so it is named on its
# own, as are the folders of Debian's separate PMIx (its prefix alone does not move its
# plugin and help folders: without these mpirun prints "couldn't open the help file").
export OPAL_PREFIX=$CROMA_DEPS_PREFIX/usr
export OPAL_SYSCONFDIR=$CROMA_DEPS_PREFIX/etc/openmpi
export PMIX_INSTALL_PREFIX=$croma_deps_lib/pmix2
export PMIX_PKGDATADIR=$croma_deps_lib/pmix2/share/pmix
export PMIX_MCA_mca_base_component_path=$croma_deps_lib/pmix2/lib/pmix
# One node: shared memory between ranks, no network transports to probe (UCX, verbs, OFI).
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_osc=^ucx
export CMAKE_PREFIX_PATH=$CROMA_DEPS_PREFIX/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
# FindMPI asks the wrapper compiler (it answers with the relocated paths); FindHDF5 is given
# Debian's serial HDF5 folders, since no h5cc wrapper travels.
export CROMA_DEPS_CMAKE_ARGS="-DMPI_CXX_COMPILER=$CROMA_DEPS_PREFIX/usr/bin/mpicxx -DMPI_C_COMPILER=$CROMA_DEPS_PREFIX/usr/bin/mpicc -DMPIEXEC_EXECUTABLE=$CROMA_DEPS_PREFIX/usr/bin/mpirun -DHDF5_ROOT=$croma_deps_lib/hdf5/serial -DHDF5_C_INCLUDE_DIR=$CROMA_DEPS_PREFIX/usr/include/hdf5/serial -DBoost_DIR=$croma_deps_lib/cmake/Boost-1.74.0 -DGTest_DIR=$croma_deps_lib/cmake/GTest -Dnlohmann_json_DIR=$CROMA_DEPS_PREFIX/usr/share/cmake/nlohmann_json"
unset croma_deps_prefix croma_deps_lib
