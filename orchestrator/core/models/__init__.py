"""What the system is: jobs, batches, queues."""
