//! MPI as the [`Collective`] of data-parallel training (the `mpi` feature: the `mpi` crate
//! over the system's MPI library, Open MPI on Debian: `libopenmpi-dev`, `openmpi-bin`, and
//! `libclang-dev` for the bindings). Any MPI communicator is a [`Collective`]; MPI's
//! errors end the job (MPI's default handler), so its calls here do not fail.
//!
//! A rank that stops while the others wait in a collective would leave them waiting: an
//! application ends the whole job instead, with [`abort_on_panic`] for panics and
//! [`abort_with`] for errors (what `mpirun` does by itself for a killed rank).

use mpi::collective::SystemOperation;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

use crate::error::Result;
use crate::train::data_parallel::Collective;

impl<T: Communicator> Collective for T {
    fn rank(&self) -> usize {
        Communicator::rank(self) as usize
    }

    fn size(&self) -> usize {
        Communicator::size(self) as usize
    }

    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<()> {
        let sent = values.to_vec();
        self.all_reduce_into(&sent[..], values, SystemOperation::sum());
        Ok(())
    }

    fn broadcast(&self, values: &mut [f32]) -> Result<()> {
        self.process_at_rank(0).broadcast_into(values);
        Ok(())
    }
}

/// After the panic's message is printed as usual, ends every rank of the job (MPI_Abort
/// with code 70), so that no rank waits for the one that panicked. Install it after
/// `mpi::initialize()`; it works while MPI's `Universe` lives (see [`abort_with`]).
pub fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        mpi::topology::SimpleCommunicator::world().abort(70);
    }));
}

/// Ends every rank of the job with `code` (MPI_Abort): what a rank does with an error it
/// cannot recover from once the others may be waiting for it. Print the error first, and
/// call it while MPI's `Universe` is alive: dropping that finalizes MPI, which waits for
/// every rank, and the others may be waiting in a collective for this one.
pub fn abort_with(code: i32) -> ! {
    mpi::topology::SimpleCommunicator::world().abort(code)
}
