//! What every dosim crate shares, and nothing else: simulated time and its fixed epoch
//! ([`SimTime`]), a hash that is stable across processes and platforms ([`Fnv1a`]), the named
//! random streams one seed splits into ([`Stream`]), delays fixed or drawn from a distribution
//! ([`Delay`]), the operation gate every data plane passes an operation through before it
//! commits ([`gate`]), the hook through which a plane asks the fault plan about a request
//! ([`faults`]), the lines of the engines' interleaving scripts ([`script`]), and JSON read from a body that
//! came over a wire ([`json`]).
//!
//! No I/O, no clock, no runtime: the model, the API, the engines and the harness all depend on
//! this crate, so it depends on none of them. Only behind features does it reach tokio: the
//! wires' TLS and accept loop (`tls`), a lost HTTP response (`http`), and a served cluster's
//! clock, connection numbers, gate and observer (`wire`, `served`).

mod delay;
pub mod faults;
pub mod gate;
mod hash;
pub mod json;
#[cfg(feature = "tls")]
pub mod listen;
#[cfg(feature = "http")]
pub mod lost;
pub mod script;
mod seed;
#[cfg(feature = "wire")]
pub mod served;
mod time;
#[cfg(feature = "tls")]
pub mod tls;

pub use delay::Delay;
pub use hash::{hash_bytes, hash_text, Fnv1a};
pub use seed::{derive, rng, splitmix64, Stream};
pub use time::{civil_from_days, days_from_civil, epoch, SimTime, EPOCH_UNIX_S};
