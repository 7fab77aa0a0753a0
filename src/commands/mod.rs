//! The commands besides serving: ndeploy's `deploy` (also `ndeploy deploy`) and `ndeploy pop`.

pub mod deploy;
pub mod pop;
