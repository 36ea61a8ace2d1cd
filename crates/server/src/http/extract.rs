//! Extractors that hand handlers typed, valid values, and refuse anything else with an [`ApiError`]
//! before the handler runs: [`ValidQuery`] for query strings, [`ValidPath`] for path parameters.

use axum::extract::{FromRequestParts, Query, RawPathParams};
use axum::http::request::Parts;
use colony_core::{AgentId, Name};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// What a query string must hold for one endpoint, checked.
pub trait QueryParameters: Sized {
    /// The query string as it decodes: strings and numbers, unknown parameters refused.
    type Decoded: DeserializeOwned;

    /// The field a problem blames when the query string does not decode at all (a number that is
    /// not one, an unknown parameter), since the decoder does not say which parameter it was.
    const UNDECODABLE_FIELD: &'static str;

    /// Checks the decoded parameters (ranges, names, ids) and turns them into typed values; a bad
    /// one is `invalid_query` blaming that parameter.
    fn validate(decoded: Self::Decoded) -> Result<Self, ApiError>;
}

/// A query string decoded and validated into `T`; refused with 400 `invalid_query` otherwise.
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidQuery<T>
where
    T: QueryParameters,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ValidQuery<T>, ApiError> {
        let Query(decoded) = Query::<T::Decoded>::try_from_uri(&parts.uri)
            .map_err(|rejection| ApiError::invalid_query(T::UNDECODABLE_FIELD, rejection.body_text()))?;
        T::validate(decoded).map(ValidQuery)
    }
}

/// One path parameter's type: how its text becomes a value.
pub trait PathSegment: Sized {
    /// The value `text` names, or why it names none.
    fn parse_segment(text: &str) -> Result<Self, String>;
}

impl PathSegment for AgentId {
    fn parse_segment(text: &str) -> Result<AgentId, String> {
        AgentId::new(text).map_err(|error| error.to_string())
    }
}

impl PathSegment for Name {
    fn parse_segment(text: &str) -> Result<Name, String> {
        Name::new(text).map_err(|error| error.to_string())
    }
}

/// Escrow ids.
impl PathSegment for u64 {
    fn parse_segment(text: &str) -> Result<u64, String> {
        text.parse().map_err(|_| "must be a whole number".to_owned())
    }
}

/// All the path parameters of a route, in the route's order.
pub trait PathParameters: Sized {
    /// The values of `segments` (name, text), or a problem blaming the first bad one by its name.
    fn from_segments(segments: &[(&str, &str)]) -> Result<Self, ApiError>;
}

fn parse_segment<T: PathSegment>(segments: &[(&str, &str)], index: usize) -> Result<T, ApiError> {
    let Some((name, text)) = segments.get(index) else {
        return Err(ApiError::invalid_query("path", format!("the path has no parameter {}", index + 1)));
    };
    T::parse_segment(text).map_err(|reason| ApiError::invalid_query(name, format!("{name}: {reason}")))
}

impl<T: PathSegment> PathParameters for T {
    fn from_segments(segments: &[(&str, &str)]) -> Result<T, ApiError> {
        parse_segment(segments, 0)
    }
}

impl<First: PathSegment, Second: PathSegment> PathParameters for (First, Second) {
    fn from_segments(segments: &[(&str, &str)]) -> Result<(First, Second), ApiError> {
        Ok((parse_segment(segments, 0)?, parse_segment(segments, 1)?))
    }
}

/// Path parameters parsed into `T` (an id, a name, or a pair of them); a bad one is refused with
/// 400 `invalid_query` blaming the parameter by the route's name for it (`id`, `agent`, `name`).
#[derive(Debug)]
pub struct ValidPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidPath<T>
where
    T: PathParameters,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ValidPath<T>, ApiError> {
        let parameters = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::invalid_query("path", rejection.body_text()))?;
        let segments: Vec<(&str, &str)> = parameters.iter().collect();
        T::from_segments(&segments).map(ValidPath)
    }
}
