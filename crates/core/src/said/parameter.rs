//! The parameter check findings.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Said {}

impl Said {
    pub(super) fn sentence(&self) -> String {
        match *self {}
    }

    pub(super) fn fix(&self) -> Option<String> {
        match *self {}
    }

    pub(super) fn alternatives(&self) -> Option<String> {
        match *self {}
    }
}
