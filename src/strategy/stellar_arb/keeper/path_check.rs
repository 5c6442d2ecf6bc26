//! The cross-check before a cycle is sent: Horizon's strict-send path
//! finding asked what the cycle's amount becomes, by the two-query recipe
//! (Horizon never returns a cycle: XLM → X with `destination_assets=X`, X
//! being the cycle's last asset before XLM, then what that much X becomes
//! in XLM), and compared with the keeper's own prediction from the books.
//! Horizon quoting less than the prediction by more than
//! `path_check_tolerance_bps` drops the cycle, with the reason in the
//! status and the log, and counts it (`StellarView::path_check_drops`,
//! the `arbkeep_stellar_path_check_drops` metric): a model that is
//! systematically wrong shows there. Horizon finding *more* is not a
//! disagreement that costs money (the path payment's `destMin` is ours).

use super::{StellarArbKeeper, venue_err};
use crate::engine::{EngineError, KeeperContext};
use crate::strategy::stellar_arb::cycle::Opportunity;
use crate::venue::stellar::StellarAsset;
use crate::venue::stellar::horizon::PathQuote;

/// The most Horizon says arrives in `dest`.
fn best(quotes: &[PathQuote], dest: &StellarAsset) -> Option<i64> {
    quotes
        .iter()
        .filter(|q| &q.destination == dest && q.destination_amount > 0)
        .map(|q| q.destination_amount)
        .max()
}

/// How far `quoted` is below `predicted`, bps of the prediction (0 when
/// it is not below).
pub fn shortfall_bps(predicted: i64, quoted: i64) -> i64 {
    if predicted <= 0 || quoted >= predicted {
        return 0;
    }
    let gap = i128::from(predicted) - i128::from(quoted);
    i64::try_from(gap * 10_000 / i128::from(predicted)).unwrap_or(i64::MAX)
}

impl StellarArbKeeper {
    /// Why Horizon's path finding disagrees with `o`, if it does. A
    /// transient failure fails the pass (tried again next ledger); a path
    /// finder that refuses the question drops the cycle.
    pub(super) async fn path_disagreement(
        &self,
        o: &Opportunity,
    ) -> Result<Option<String>, EngineError> {
        let venue = self.shared.venue.clone();
        let xlm = StellarAsset::Native;
        let Some(last) = o.path().last().cloned() else {
            return Ok(None);
        };
        let asked = |e: crate::venue::VenueError| {
            if e.is_transient() {
                Err(venue_err(e))
            } else {
                Ok(format!("Horizon path finding refused: {e}"))
            }
        };
        let out = match venue
            .strict_send_paths(&xlm, o.send, std::slice::from_ref(&last))
            .await
        {
            Ok(q) => best(&q, &last),
            Err(e) => return asked(e).map(Some),
        };
        let Some(out) = out else {
            return Ok(Some(format!("Horizon finds no path XLM → {}", last.code())));
        };
        let back = match venue
            .strict_send_paths(&last, out, std::slice::from_ref(&xlm))
            .await
        {
            Ok(q) => best(&q, &xlm),
            Err(e) => return asked(e).map(Some),
        };
        let Some(quoted) = back else {
            return Ok(Some(format!("Horizon finds no path {} → XLM", last.code())));
        };
        let short = shortfall_bps(o.expected, quoted);
        let tolerance = self.config.path_check_tolerance_bps;
        Ok((short > tolerance).then(|| {
            format!(
                "Horizon quotes {quoted} stroops back for {} sent, the books predicted {} ({short} bps less; path_check_tolerance_bps {tolerance})",
                o.send, o.expected
            )
        }))
    }

    /// Execute `o` unless Horizon's path finding disagrees.
    pub(super) async fn checked_execute(
        &mut self,
        cx: &KeeperContext<'_>,
        o: &Opportunity,
    ) -> Result<(), EngineError> {
        let Some(why) = self.path_disagreement(o).await? else {
            return self.execute(cx, o).await;
        };
        self.view.path_check_drops = self.view.path_check_drops.saturating_add(1);
        let label = o.label();
        tracing::warn!(target: "stellar_arb", cycle = %label, reason = %why, "cycle dropped by the path check");
        self.log(format!("{label} dropped by the path check: {why}"));
        self.view.status = format!("{} (dropped {label}: {why})", self.view.status);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::shortfall_bps;

    #[test]
    fn the_shortfall_is_in_bps_of_the_prediction_and_never_overflows() {
        assert_eq!(shortfall_bps(10_000, 9_950), 50);
        assert_eq!(shortfall_bps(10_000, 10_100), 0);
        assert_eq!(shortfall_bps(0, 5), 0);
        assert_eq!(shortfall_bps(i64::MAX, i64::MIN), 20_000);
    }
}
