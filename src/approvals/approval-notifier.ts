/** A tool call that has just started to wait for a human's decision, as it was saved. */
export interface PendingApproval {
  sessionId: string;
  /** The call's id: what `POST /approve` names. */
  requestId: string;
  /** The tool as the model and the approval card name it, and its MCP server. */
  tool: { name: string; server: string };
  /** Exactly the arguments the call would run with. */
  arguments: Record<string, unknown>;
  /** When the call was made (milliseconds since the epoch). */
  createdAt: number;
  /** When its approval expires unless decided (milliseconds since the epoch). */
  expiresAt: number;
}

/**
 * Tells someone outside the server (a webhook, a chat bot) that a tool call waits for approval.
 * Called by the turn once per call, right after the call was saved as pending and before the
 * `approval_required` event, so a receiver that answers at once finds the call.
 */
export interface ApprovalNotifier {
  /**
   * Announces `approval`. Returns at once and never throws: delivery, retries and their failures
   * happen off the turn's path, and nothing about them reaches the turn.
   */
  pending(approval: PendingApproval): void;
}
