//! Helm charts, rendered natively.

pub mod deps;
pub mod files_glob;
pub mod helm;
pub mod helm_funcs;
pub mod json;
pub mod load;
pub mod manifests;
pub mod model;
pub mod render;
pub mod schema;
pub mod sprig;
pub mod strvals;
pub mod toml;
pub mod values;
pub mod yaml;
