//! Framework adapters, each behind its own feature. They hold no policy logic: each builds a
//! [`RequestView`](crate::RequestView), asks the [`Gate`](crate::gate::Gate), and turns the
//! outcome into its framework's response.

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(any(feature = "actix", feature = "tower"))]
mod respond;
#[cfg(feature = "tower")]
pub mod tower;
