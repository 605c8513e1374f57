$(eval $(call program,smtpd,tern-smtpd,,))
