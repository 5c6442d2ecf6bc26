//! Which proof system a portal speaks, from its `version()` (viem's rule,
//! evm.md §1.4.7): a major version below 3 is the legacy `OptimismPortal`
//! proving against `L2OutputOracle` outputs, which this build speaks; 3 and
//! above is `OptimismPortal2` (dispute games), which it refuses by name
//! rather than send it calls shaped for the other.

use super::TunnelError;

/// The portal's proof system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalKind {
    /// `L2OutputOracle` outputs (`proveWithdrawalTransaction(tx, l2OutputIndex, …)`).
    Legacy,
}

/// Read `version()` (semver, e.g. `2.5.0` or `2.8.1-beta.1`).
pub fn portal_kind(version: &str) -> Result<PortalKind, TunnelError> {
    let major = version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse::<u64>().ok())
        .ok_or_else(|| TunnelError::PortalVersion {
            version: version.to_string(),
            why: "not a semantic version".into(),
        })?;
    match major {
        0..=2 => Ok(PortalKind::Legacy),
        _ => Err(TunnelError::PortalVersion {
            version: version.to_string(),
            why: "OptimismPortal2 (fault proofs, dispute games) is not supported by this build; \
                  the tunnel route is refused"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_three_is_legacy_and_three_or_more_is_refused_by_name() {
        // Hemi's portal today (evm.md §1.2) and the npm package's.
        assert_eq!(portal_kind("2.5.0"), Ok(PortalKind::Legacy));
        assert_eq!(portal_kind("2.8.1-beta.1"), Ok(PortalKind::Legacy));
        // The hemilabs fork's OptimismPortal2 (evm.md §1.4.7).
        let e = portal_kind("5.6.0").unwrap_err().to_string();
        assert!(e.contains("5.6.0") && e.contains("OptimismPortal2"), "{e}");
        for bad in ["", "v2", "two.0.0", "-1.0.0"] {
            assert!(portal_kind(bad).is_err(), "{bad:?}");
        }
    }
}
