ALTER TABLE `runs` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `lease_expires_at` integer;--> statement-breakpoint
CREATE INDEX `runs_state_lease` ON `runs` (`state`,`lease_expires_at`);