CREATE TABLE `model_names` (
	`name` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `uploads` ADD `quota_key_id` text;--> statement-breakpoint
INSERT OR IGNORE INTO `model_names` (`name`, `owner`, `created_at`) SELECT `name`, coalesce(`owner`, ''), `created_at` FROM `models`;