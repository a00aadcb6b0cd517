//! The strategy registry: every strategy kind this binary can run, by name. A configuration's
//! `[[strategy]]` selects one with `kind = "<name>"`. To add a kind, add its crate as a
//! dependency and its descriptor to [`REGISTRY`] (see "Write your own strategy" in
//! `strategies/README.md`).

use ticklane_strategy::StrategyDescriptor;

/// Every registered strategy kind.
pub const REGISTRY: &[StrategyDescriptor] = &[
    ticklane_strategy_imbalance::DESCRIPTOR,
    ticklane_strategy_microprice_mm::DESCRIPTOR,
];

/// The kind named `name`.
pub fn find(name: &str) -> Option<&'static StrategyDescriptor> {
    REGISTRY.iter().find(|d| d.name == name)
}

/// Names of every kind, for error messages.
pub fn names() -> String {
    REGISTRY
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}
