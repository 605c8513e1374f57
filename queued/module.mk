$(eval $(call program,queued,tern-queued,-lpthread,))
