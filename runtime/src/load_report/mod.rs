//! ORCA load reports (gRFC A51): the `xds.data.orca.v3.OrcaLoadReport` a backend sends about its load, in
//! the `endpoint-load-metrics-bin` trailer of a call or on the OpenRcaService stream, and how a trailer
//! is read. A module apart from [`crate::orca`] (the service and the server's recorders) because the client
//! reads reports too, and the service's generated code depends on the server, which depends on the client.

/// The generated `xds.data.orca.v3` package.
pub mod proto {
    include!("xds.data.orca.v3.rs");
}

pub use proto::OrcaLoadReport;

use crate::metadata::MetadataMap;

/// The trailer a per-call load report travels in (binary metadata: base64 on the wire).
pub const TRAILER: &str = "endpoint-load-metrics-bin";

/// Load reports are a few numbers and names; a backend sending more is not trusted with more memory or
/// time (the trailer's size is already bounded by the header list limit).
pub(crate) const MAX_REPORT: usize = 16 * 1024;

/// The load report in a call's trailers, if the backend sent one. A report that does not decode is left
/// out (with a log line): it must never fail the call it came with.
pub fn from_trailers(trailers: &MetadataMap) -> Option<OrcaLoadReport> {
    let bytes = match trailers.get_bin(TRAILER)? {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::debug!(%error, "an {TRAILER} trailer that is not base64; ignored");
            return None;
        }
    };
    if bytes.len() > MAX_REPORT {
        tracing::debug!(len = bytes.len(), "an oversized {TRAILER} trailer; ignored");
        return None;
    }
    match <OrcaLoadReport as prost::Message>::decode(bytes.as_slice()) {
        Ok(report) => Some(report),
        Err(error) => {
            tracing::debug!(%error, "an {TRAILER} trailer that is not an OrcaLoadReport; ignored");
            None
        }
    }
}

/// Writes `report` as the trailer.
pub(crate) fn to_trailers(report: &OrcaLoadReport, trailers: &mut MetadataMap) {
    let bytes = prost::Message::encode_to_vec(report);
    // The key is a valid binary key, so this cannot fail.
    let _ = trailers.insert_bin(TRAILER, &bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_goes_into_trailers_and_comes_back_and_garbage_is_ignored() {
        let mut report = OrcaLoadReport { cpu_utilization: 0.5, rps_fractional: 120.0, ..Default::default() };
        report.named_metrics.insert("queue".into(), 3.0);
        let mut trailers = MetadataMap::new();
        to_trailers(&report, &mut trailers);
        assert_eq!(from_trailers(&trailers), Some(report));

        assert_eq!(from_trailers(&MetadataMap::new()), None);
        let mut bad = MetadataMap::new();
        bad.insert_bin(TRAILER, &[0xff, 0xff, 0xff]).unwrap();
        assert_eq!(from_trailers(&bad), None, "not a message");
        let mut huge = MetadataMap::new();
        huge.insert_bin(TRAILER, &vec![0; MAX_REPORT + 1]).unwrap();
        assert_eq!(from_trailers(&huge), None, "too long");
    }
}
