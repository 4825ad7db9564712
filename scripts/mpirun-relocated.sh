#!/bin/sh
# mpirun for Open MPI 4.1 carried from Debian 12 in the device bundle (scripts/device-bundle.sh
# puts it at mpi/bin/mpirun): the installation is found through Open MPI's and PMIx's
# installdirs variables instead of the /usr paths compiled into it. Shared memory between
# ranks without cross-memory attach (sandboxed kernels lack it), TCP as the fallback.
here=$(cd "$(dirname "$0")/.." && pwd)
export OPAL_PREFIX="$here" OPAL_EXEC_PREFIX="$here" OPAL_BINDIR="$here/bin" OPAL_LIBDIR="$here/lib" \
  OPAL_PKGLIBDIR="$here/lib/openmpi3" OPAL_DATADIR="$here/share" OPAL_DATAROOTDIR="$here/share" \
  OPAL_PKGDATADIR="$here/share/openmpi" OPAL_SYSCONFDIR="$here/etc" \
  PMIX_PREFIX="$here" PMIX_LIBDIR="$here/lib" PMIX_PKGLIBDIR="$here/lib/pmix"
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader,tcp}" OMPI_MCA_btl_vader_single_copy_mechanism=none
exec "$here/bin/orterun" "$@"
