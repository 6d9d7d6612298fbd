/** Server counters, rendered in Prometheus text format by the HTTP side. */

export class Metrics {
  connections = 0;
  authenticatedConnections = 0;
  registrations = 0;
  enrolments = 0;
  /** RENEW answered (RN4). */
  renewals = 0;
  /** The server's TLS certificate replaced while running (RN8). */
  tlsRenewals = 0;
  loginsFailed = 0;
  imagesStored = 0;
  bytesStored = 0;
  notificationsSent = 0;
  downloads = 0;
  /** Ciphertext bytes DOWNLOAD streamed: a ranged one (P23a, version 4) counts only from its `from`. */
  downloadBytes = 0;
  /** Ranged DOWNLOADs (P23a): a dropped delivery resumed. */
  rangedDownloads = 0;
  /** Version 3 (P42): images a watcher got while they were posted (DELIVERED sent), and deliveries ended with DROPPED. */
  cutThroughDelivered = 0;
  cutThroughDropped = 0;
  /** Images deleted by their owners through the protocol (M27). */
  imagesDeleted = 0;
  readonly refusals = new Map<string, number>();
  /** With several nodes (docs/SCALING.md): milliseconds since the image doorbell last heard a notification or finished a read. */
  doorbellAgeMs: (() => number) | null = null;

  refuse(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: "gauge" | "counter", help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    };
    metric("sis_connected_clients", "gauge", "Open connections on the protocol port.", this.connections);
    metric("sis_authenticated_clients", "gauge", "Open connections authenticated with a user certificate.", this.authenticatedConnections);
    metric("sis_registrations_total", "counter", "New users registered.", this.registrations);
    metric("sis_enrolments_total", "counter", "Keys enrolled for existing users.", this.enrolments);
    metric("sis_renewals_total", "counter", "User certificates renewed (RENEW).", this.renewals);
    metric("sis_tls_renewals_total", "counter", "Server TLS certificates renewed while running.", this.tlsRenewals);
    metric("sis_logins_failed_total", "counter", "Registrations refused for a wrong password.", this.loginsFailed);
    metric("sis_images_stored_total", "counter", "Images stored durably.", this.imagesStored);
    metric("sis_bytes_stored_total", "counter", "Ciphertext bytes stored.", this.bytesStored);
    metric("sis_notifications_sent_total", "counter", "NEW_IMAGE messages sent.", this.notificationsSent);
    metric("sis_downloads_total", "counter", "Images streamed to clients.", this.downloads);
    metric("sis_download_bytes_total", "counter", "Ciphertext bytes streamed by DOWNLOAD (a ranged one from its from, protocol version 4).", this.downloadBytes);
    metric("sis_ranged_downloads_total", "counter", "DOWNLOADs that started past byte 0 (from, protocol version 4): dropped deliveries resumed.", this.rangedDownloads);
    metric("sis_cut_through_delivered_total", "counter", "Images delivered to watchers while they were posted (DELIVERED, protocol version 3).", this.cutThroughDelivered);
    metric("sis_cut_through_dropped_total", "counter", "Cut-through deliveries ended without the image (DROPPED: the upload failed or the watcher fell behind).", this.cutThroughDropped);
    metric("sis_images_deleted_total", "counter", "Images deleted by their owners (sis rm).", this.imagesDeleted);
    if (this.doorbellAgeMs) metric("sis_doorbell_age_milliseconds", "gauge", "Time since the cross-node image doorbell last heard a notification or finished a poll.", this.doorbellAgeMs());
    lines.push("# HELP sis_refusals_total Requests refused, by error code.", "# TYPE sis_refusals_total counter");
    for (const [code, n] of [...this.refusals].sort()) lines.push(`sis_refusals_total{code="${code}"} ${n}`);
    return lines.join("\n") + "\n";
  }
}
