CREATE TABLE `benchmark_results` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`created_at` integer NOT NULL,
	`result` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `benchmark_results_model_time` ON `benchmark_results` (`model`,`created_at`);--> statement-breakpoint
CREATE TABLE `request_summaries` (
	`gateway` text NOT NULL,
	`minute` integer NOT NULL,
	`variant` text NOT NULL,
	`measure` text NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`sketch` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`gateway`, `minute`, `variant`, `measure`)
);
--> statement-breakpoint
CREATE INDEX `request_summaries_variant_minute` ON `request_summaries` (`variant`,`minute`);--> statement-breakpoint
CREATE INDEX `request_summaries_minute` ON `request_summaries` (`minute`);