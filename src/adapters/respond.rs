//! What the framework middlewares share: a response future that is either the inner service's
//! or a refusal ready at once, and a refusal's headers as the framework's header types.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pin_project! {
    /// The inner service's future, or a refusal (`D`) that is answered without polling it.
    #[project = OrDeniedProj]
    pub(crate) enum OrDenied<F, D> {
        Inner { #[pin] future: F },
        Denied { denial: Option<D> },
    }
}

impl<F: Future, D> OrDenied<F, D> {
    /// Polls the inner future and maps its output with `inner`, or answers the refusal with
    /// `denied` (`None` when polled again after completion).
    pub(crate) fn poll_map<T>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        inner: impl FnOnce(F::Output) -> T,
        denied: impl FnOnce(Option<D>) -> T,
    ) -> Poll<T> {
        match self.project() {
            OrDeniedProj::Inner { future } => future.poll(cx).map(inner),
            OrDeniedProj::Denied { denial } => Poll::Ready(denied(denial.take())),
        }
    }
}

/// A refusal's headers as the framework's header types, leaving out any its types refuse.
pub(crate) fn headers<N, V>(headers: Vec<(&'static str, String)>) -> impl Iterator<Item = (N, V)>
where
    N: TryFrom<&'static str>,
    V: TryFrom<String>,
{
    headers
        .into_iter()
        .filter_map(|(name, value)| Some((N::try_from(name).ok()?, V::try_from(value).ok()?)))
}
