CREATE TABLE `route_promotions` (
	`model` text PRIMARY KEY NOT NULL,
	`chosen` text NOT NULL,
	`reasons` text NOT NULL,
	`updated_at` integer NOT NULL
);
