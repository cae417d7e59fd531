package recon

import "github.com/payops/payops/internal/config"

// ConfigFrom maps the process environment onto Config, so the api and the
// worker build the service identically.
func ConfigFrom(c config.Config) Config {
	rc := Config{ReportsDir: c.ReportsDir, ArchiveDir: c.ArchiveDir, ExportDir: c.ExportDir, SettlementDays: c.SettleDays,
		AmountConvention: c.ReconAmounts, TmpDir: c.TmpDir}
	if c.SFTPEnabled() {
		rc.SFTP = &SFTPConfig{Addr: c.SFTPAddr, User: c.SFTPUser, Password: c.SFTPPassword,
			KnownHostsFile: c.SFTPKnownHosts, RemoteDir: c.SFTPDir}
	}
	return rc
}
