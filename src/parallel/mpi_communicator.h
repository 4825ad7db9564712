// Communicator over MPI (OpenMPI from Debian). Every collective is non-blocking underneath and
// waited for against a deadline: a peer that died or hangs turns into a message and an
// MPI_Abort of the whole job, never a hang.
#pragma once

#include <memory>

#include "parallel/communicator.h"

namespace paradit {

// True when this process was started by mpirun/srun (OpenMPI, PMI or PMIx variables are set);
// only then is MPI initialised, so a plain `paradit` run never touches MPI.
bool launched_by_mpi();

// Initialises MPI once (thread level "serialized": the server calls it from a worker thread)
// and returns the world; finalize_mpi() at exit. Both are no-ops without MPI.
std::unique_ptr<Communicator> mpi_world();
void finalize_mpi();
// Ends every rank now with `code` (after a message has been printed): for an error that only
// some ranks see, which would otherwise leave the others waiting.
[[noreturn]] void abort_mpi(int code);

// Seconds a collective may wait for its peers before the job is aborted (default 600, or
// PARADIT_COMM_TIMEOUT_S).
void set_comm_timeout(double seconds);
// This process's rank and the world size (0 and 1 without MPI).
int mpi_world_rank();
int mpi_world_size();
double comm_timeout();

}  // namespace paradit
