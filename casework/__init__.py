"""Case work: the services shared by the API and the flows (case lifecycle, escalation application,
policy registry, reports, audit). Each service flushes; its caller owns the transaction."""
