package apo

import "context"

// Paths of the dispute operations.
const (
	PathAcceptDispute           = "/ams/api/v1/payments/acceptDispute"
	PathSupplyDefenseDocument   = "/ams/api/v1/payments/supplyDefenseDocument"
	PathDownloadDisputeEvidence = "/ams/api/v1/payments/downloadDisputeEvidence"
)

// Values of DownloadDisputeEvidenceRequest.DisputeEvidenceType.
const (
	EvidenceTemplate = "DISPUTE_EVIDENCE_TEMPLATE"
	EvidenceFile     = "DISPUTE_EVIDENCE_FILE"
)

// AcceptDisputeRequest concedes a dispute.
type AcceptDisputeRequest struct {
	DisputeID string `json:"disputeId"`
}

// AcceptDisputeResponse is the reply to acceptDispute.
type AcceptDisputeResponse struct {
	Result                Result `json:"result"`
	DisputeID             string `json:"disputeId,omitempty"`
	DisputeResolutionTime string `json:"disputeResolutionTime,omitempty"`
}

func (r *AcceptDisputeResponse) result() Result { return r.Result }

// AcceptDispute tells APO the merchant accepts the dispute (loses the
// disputed amount).
func (c *Client) AcceptDispute(ctx context.Context, req AcceptDisputeRequest) (AcceptDisputeResponse, error) {
	var resp AcceptDisputeResponse
	err := c.post(ctx, call{api: "acceptDispute", path: PathAcceptDispute, requestID: req.DisputeID, timeout: c.timeout}, req, &resp)
	return resp, err
}

// SupplyDefenseDocumentRequest defends a dispute with one document.
// DisputeEvidence is the document in base64 (≤1,000,000 characters).
type SupplyDefenseDocumentRequest struct {
	DisputeID       string `json:"disputeId"`
	DisputeEvidence string `json:"disputeEvidence"`
}

// SupplyDefenseDocumentResponse is the reply to supplyDefenseDocument.
type SupplyDefenseDocumentResponse struct {
	Result                Result `json:"result"`
	DisputeID             string `json:"disputeId,omitempty"`
	DisputeResolutionTime string `json:"disputeResolutionTime,omitempty"`
}

func (r *SupplyDefenseDocumentResponse) result() Result { return r.Result }

// SupplyDefenseDocument sends the merchant's defence before defenseDueTime
// (after it APO answers F TIME_EXCEEDS_LIMIT).
func (c *Client) SupplyDefenseDocument(ctx context.Context, req SupplyDefenseDocumentRequest) (SupplyDefenseDocumentResponse, error) {
	var resp SupplyDefenseDocumentResponse
	err := c.post(ctx, call{api: "supplyDefenseDocument", path: PathSupplyDefenseDocument, requestID: req.DisputeID, timeout: c.timeout}, req, &resp)
	return resp, err
}

// DownloadDisputeEvidenceRequest fetches the evidence template or the
// issuer's evidence file (EvidenceTemplate or EvidenceFile).
type DownloadDisputeEvidenceRequest struct {
	DisputeID           string `json:"disputeId"`
	DisputeEvidenceType string `json:"disputeEvidenceType"`
}

// DownloadDisputeEvidenceResponse carries the document in base64 and its
// format (PDF or WORD).
type DownloadDisputeEvidenceResponse struct {
	Result                Result `json:"result"`
	DisputeEvidence       string `json:"disputeEvidence,omitempty"`
	DisputeEvidenceFormat string `json:"disputeEvidenceFormat,omitempty"`
}

func (r *DownloadDisputeEvidenceResponse) result() Result { return r.Result }

// DownloadDisputeEvidence fetches a dispute document.
func (c *Client) DownloadDisputeEvidence(ctx context.Context, req DownloadDisputeEvidenceRequest) (DownloadDisputeEvidenceResponse, error) {
	var resp DownloadDisputeEvidenceResponse
	err := c.post(ctx, call{api: "downloadDisputeEvidence", path: PathDownloadDisputeEvidence, requestID: req.DisputeID, timeout: c.timeout}, req, &resp)
	return resp, err
}
