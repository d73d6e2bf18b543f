ALTER TABLE `experiments` ADD `tags` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `experiments` ADD `note` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `tags` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `note` text;--> statement-breakpoint
CREATE INDEX `runs_created` ON `runs` (`created_at`,`experiment_id`,`position`);
