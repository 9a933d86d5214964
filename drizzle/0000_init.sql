CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`model_id` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`stage` text DEFAULT 'queued' NOT NULL,
	`progress` real DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`run_after` integer DEFAULT 0 NOT NULL,
	`error` text,
	`idempotency_key` text NOT NULL,
	`params` text NOT NULL,
	`source_bucket` text NOT NULL,
	`source_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_idempotencyKey_unique` ON `jobs` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `jobs_claim` ON `jobs` (`status`,`run_after`);--> statement-breakpoint
CREATE INDEX `jobs_model` ON `jobs` (`model_id`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`source_bucket` text NOT NULL,
	`source_key` text NOT NULL,
	`source_etag` text,
	`sha256` text,
	`bytes` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `models_name_unique` ON `models` (`name`);--> statement-breakpoint
CREATE TABLE `request_metrics` (
	`id` text PRIMARY KEY NOT NULL,
	`variant_id` text NOT NULL,
	`model_id` text,
	`endpoint` text NOT NULL,
	`status` integer NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`queue_ms` real,
	`ttft_ms` real,
	`total_ms` real NOT NULL,
	`ab_group` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `request_metrics_variant_time` ON `request_metrics` (`variant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`key` text NOT NULL,
	`s3_upload_id` text NOT NULL,
	`size` integer NOT NULL,
	`params` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `variants` (
	`id` text PRIMARY KEY NOT NULL,
	`model_id` text NOT NULL,
	`name` text NOT NULL,
	`method` text NOT NULL,
	`layers` integer NOT NULL,
	`params` integer NOT NULL,
	`bytes` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`prefix` text NOT NULL,
	`evaluation` text,
	`report` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `variants_model_name` ON `variants` (`model_id`,`name`);