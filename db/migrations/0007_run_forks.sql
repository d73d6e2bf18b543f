ALTER TABLE `runs` ADD `parent_run_id` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `fork_epoch` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `spec` text;