ALTER TABLE `experiments` ADD `project_id` text DEFAULT 'default' NOT NULL;--> statement-breakpoint
CREATE INDEX `experiments_project` ON `experiments` (`project_id`,`id`);