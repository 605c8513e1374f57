$(eval $(call program,pop3d,tern-pop3d,,))
