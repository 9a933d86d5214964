CREATE TABLE `ab_routes` (
	`model` text PRIMARY KEY NOT NULL,
	`arms` text NOT NULL,
	`shadow_rate` real DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL
);
